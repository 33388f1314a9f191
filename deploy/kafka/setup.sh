#!/bin/sh
# The kafka container's healthcheck: healthy once the broker answers and its
# users and ACLs exist. Users and ACLs are made once (marker in the data
# volume); run users.sh again by hand to change a password. v2: the feedback
# topics (acls.sh takes back the senders' read of mash.contacts.rejected).
set -eu
here="$(dirname "$0")"
. "$here/principals.sh"
kafka_topics --list >/dev/null
marker="${KAFKA_SETUP_MARKER:-/var/lib/kafka/data/.mash-security-v2}"
if [ ! -f "$marker" ]; then
  sh "$here/users.sh"
  sh "$here/acls.sh"
  touch "$marker"
fi
