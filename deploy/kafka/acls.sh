#!/bin/sh
# Least privilege on Kafka: what each principal may read, write and join.
# Idempotent (kafka-acls.sh --add of an existing ACL changes nothing).
# The broker denies whatever is not allowed here
# (allow.everyone.if.no.acl.found=false).
set -eu
. "$(dirname "$0")/principals.sh"

# grant <literal|prefixed> <principal> <operation> <topic|group> <name>...
# One call per principal and operation (each call starts a JVM). A prefixed
# name covers every resource whose name starts with it.
grant() {
  pattern=$1 p=$2 op=$3 kind=$4
  shift 4
  resources=
  for name in "$@"; do resources="$resources --$kind $name"; done
  # shellcheck disable=SC2086 # one word per flag and per name
  kafka_acls --add --allow-principal "User:$p" --operation "$op" $resources \
    --resource-pattern-type "$pattern"
}
read_topic()   { p=$1; shift; grant literal "$p" Read topic "$@"; }
write_topic()  { p=$1; shift; grant literal "$p" Write topic "$@"; }
write_prefix() { p=$1; shift; grant prefixed "$p" Write topic "$@"; }
group()        { p=$1; shift; grant literal "$p" Read group "$@"; }
group_prefix() { p=$1; shift; grant prefixed "$p" Read group "$@"; }

# intake: reads contacts; writes cases, contact-added, enquiries, and tells each
# sender of its receipts and rejections on that sender's own mash.feedback.<sender>.
# mash.contacts.rejected holds only what no sender can be held to (no valid
# signature): the operator reads it, no sender does.
# Where work queues there is a RED lane beside the topic (<topic>.urgent, read
# by a consumer group of its own): see contracts/topics.py.
read_topic intake mash.contacts.submitted mash.contacts.submitted.urgent
group intake mash-intake mash-intake.urgent
write_topic intake mash.contacts.rejected mash.cases.opened mash.cases.opened.urgent \
  mash.cases.contact-added mash.dlq
write_prefix intake mash.enquiries. mash.feedback.

# research-<agency>: reads only its own enquiries, writes only findings (and a
# dead letter for an enquiry it can never read, which holds only that enquiry).
# No one else writes findings; each is signed with the service's own key too.
for agency in $AGENCIES; do
  read_topic "research-$agency" "mash.enquiries.$agency" "mash.enquiries.$agency.urgent" \
    "mash.commands.research.$agency"
  group "research-$agency" "mash-research-$agency" "mash-research-$agency.urgent"
  write_topic "research-$agency" mash.findings mash.findings.urgent mash.dlq
done

# decision: cases, findings, further contacts, commands, acknowledgements and
# escalations in; decisions, history and timescales out. One consumer reads
# every event about a case (mash-decision.cases), another the RED lanes.
read_topic decision mash.cases.opened mash.cases.opened.urgent mash.findings \
  mash.findings.urgent mash.cases.contact-added mash.commands.decision mash.outcomes.acks \
  mash.outcomes.escalations
group_prefix decision mash-decision.
write_topic decision mash.decisions mash.cases.history mash.sla.warnings mash.sla.breached \
  mash.dlq

# notify: decisions and acknowledgements in, and the dead-letter topic, to count
# what waits (mash_dlq_depth); outcomes and each sender's feedback out.
read_topic notify mash.decisions mash.outcomes.acks mash.dlq
group notify mash-notify
write_prefix notify mash.outcomes. mash.feedback.
write_topic notify mash.dlq

# desk: the case's public events in, for its case views; people's commands out
# (the only writer of mash.commands.decision: each command is signed by the desk).
read_topic desk mash.cases.opened mash.cases.opened.urgent mash.findings mash.findings.urgent \
  mash.cases.contact-added mash.cases.history mash.decisions mash.sla.warnings mash.sla.breached
group_prefix desk mash-desk.
write_topic desk mash.commands.decision mash.dlq
# Researchers' notes, each to its own agency's research service.
write_prefix desk mash.commands.research.

# Senders: each may submit contacts and read its own feedback topic (its receipts,
# rejections and outcomes), and nothing else.
for signer in $AGENCIES $CHANNELS; do
  write_topic "agency-$signer" mash.contacts.submitted mash.contacts.submitted.urgent
  read_topic "agency-$signer" "mash.feedback.$signer"
  group_prefix "agency-$signer" "agency-$signer"
done
# Until the feedback topics, every sender read mash.contacts.rejected, everyone's
# rejections on it: take that back where an earlier acls.sh granted it.
senders=
for signer in $AGENCIES $CHANNELS; do senders="$senders --allow-principal User:agency-$signer"; done
# shellcheck disable=SC2086
kafka_acls --remove --force $senders --operation Read --topic mash.contacts.rejected \
  --resource-pattern-type literal

# The operator (`mash` CLI: topics, case commands, dead letters, reconcile).
kafka_acls --add --allow-principal User:mash-operator \
  --operation All --topic mash. --resource-pattern-type prefixed
group_prefix mash-operator mash-
kafka_acls --add --allow-principal User:mash-operator \
  --operation Create --operation Describe --cluster
