#!/bin/sh
# The kafka container's healthcheck: healthy once the broker answers and its
# users and ACLs exist. Users and ACLs are made once (marker in the data
# volume); run users.sh again by hand to change a password.
set -eu
here="$(dirname "$0")"
. "$here/principals.sh"
"$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --list >/dev/null
marker=/var/lib/kafka/data/.mash-security-v1
if [ ! -f "$marker" ]; then
  sh "$here/users.sh"
  sh "$here/acls.sh"
  touch "$marker"
fi
