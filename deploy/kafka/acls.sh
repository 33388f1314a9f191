#!/bin/sh
# Least privilege on Kafka: what each principal may read, write and join.
# Idempotent (kafka-acls.sh --add of an existing ACL changes nothing).
# The broker denies whatever is not allowed here
# (allow.everyone.if.no.acl.found=false).
set -eu
. "$(dirname "$0")/principals.sh"

# read <principal> <topic>, write <principal> <topic>, group <principal> <group>;
# *_prefix for a prefixed resource.
read_topic()   { p=$1; shift; "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal "User:$p" --operation Read --topic "$1"; }
write_topic()  { p=$1; shift; "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal "User:$p" --operation Write --topic "$1"; }
write_prefix() { p=$1; shift; "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal "User:$p" --operation Write --topic "$1" --resource-pattern-type prefixed; }
group()        { p=$1; shift; "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal "User:$p" --operation Read --group "$1"; }
group_prefix() { p=$1; shift; "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal "User:$p" --operation Read --group "$1" --resource-pattern-type prefixed; }

# intake: reads contacts; writes rejections, cases, contact-added, enquiries.
# Where work queues there is a RED lane beside the topic (<topic>.urgent, read
# by a consumer group of its own): see contracts/topics.py.
read_topic intake mash.contacts.submitted
read_topic intake mash.contacts.submitted.urgent
group intake mash-intake
group intake mash-intake.urgent
write_topic intake mash.contacts.rejected
write_topic intake mash.cases.opened
write_topic intake mash.cases.opened.urgent
write_topic intake mash.cases.contact-added
write_prefix intake mash.enquiries.
write_topic intake mash.dlq

# research-<agency>: reads only its own enquiries, writes only findings (and a
# dead letter for an enquiry it can never read, which holds only that enquiry).
for agency in $AGENCIES; do
  read_topic "research-$agency" "mash.enquiries.$agency"
  read_topic "research-$agency" "mash.enquiries.$agency.urgent"
  group "research-$agency" "mash-research-$agency"
  group "research-$agency" "mash-research-$agency.urgent"
  write_topic "research-$agency" mash.findings
  write_topic "research-$agency" mash.findings.urgent
  write_topic "research-$agency" mash.dlq
done

# decision: cases, findings, further contacts, commands, acknowledgements and
# escalations in; decisions, history and timescales out. One group per topic.
for topic in mash.cases.opened mash.cases.opened.urgent mash.findings mash.findings.urgent \
             mash.cases.contact-added mash.commands.decision mash.outcomes.acks \
             mash.outcomes.escalations; do
  read_topic decision "$topic"
done
group_prefix decision mash-decision.
for topic in mash.decisions mash.cases.history mash.sla.warnings mash.sla.breached mash.dlq; do
  write_topic decision "$topic"
done

# notify: decisions and acknowledgements in; outcomes, feedback, escalations out.
read_topic notify mash.decisions
read_topic notify mash.outcomes.acks
# ... and the dead-letter topic, to count what waits (mash_dlq_depth).
read_topic notify mash.dlq
group notify mash-notify
group notify mash-notify.acks
group notify mash-notify.dlq
write_prefix notify mash.outcomes.
write_prefix notify mash.feedback.
write_topic notify mash.dlq

# Senders: each may submit contacts and read its rejections and its own feedback.
for signer in $AGENCIES $CHANNELS; do
  write_topic "agency-$signer" mash.contacts.submitted
  write_topic "agency-$signer" mash.contacts.submitted.urgent
  read_topic "agency-$signer" mash.contacts.rejected
  read_topic "agency-$signer" "mash.feedback.$signer"
  group_prefix "agency-$signer" "agency-$signer"
done

# The operator (`mash` CLI: topics, case commands, dead letters, reconcile).
"$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal User:mash-operator \
  --operation All --topic mash. --resource-pattern-type prefixed
group_prefix mash-operator mash-
"$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --allow-principal User:mash-operator \
  --operation Create --operation Describe --cluster
