#!/bin/sh
# SCRAM-SHA-512 users, one per principal (idempotent: re-running sets the
# password again). Run inside the kafka container: deploy/kafka/setup.sh.
set -eu
. "$(dirname "$0")/principals.sh"

scram_user() {
  pw=$(password_of "$1")
  kafka_configs --alter --entity-type users \
    --entity-name "$1" --add-config "SCRAM-SHA-512=[iterations=8192,password=$pw]"
}

for service in intake decision notify desk mash-operator; do
  scram_user "$service"
done
for agency in $AGENCIES; do
  scram_user "research-$agency"
done
# Senders of contacts: every agency and every non-agency channel.
for signer in $AGENCIES $CHANNELS; do
  scram_user "agency-$signer"
done
