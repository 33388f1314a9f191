# Shared by setup.sh, users.sh and acls.sh: the Kafka principals of the MASH.
# One per service and per agency research service, the operator, and one per
# signer that submits contacts. Override the agencies with MASH_AGENCIES.
AGENCIES="${MASH_AGENCIES:-police,health,education,childrens-social-care,probation,housing}"
AGENCIES=$(echo "$AGENCIES" | tr ',' ' ')
# The signers that are not agencies: contracts/signers.toml (a test keeps the two the same).
CHANNELS="contact-centre early-help other-la"
# The scripts are User:kafka-admin, a super user: its certificate, on the BROKER
# listener (TLS, client certificate required) on the kafka container's loopback,
# which no other container can reach. See admin.properties.
BOOTSTRAP="${KAFKA_ADMIN_BOOTSTRAP:-127.0.0.1:9094}"
ADMIN_CONFIG="${KAFKA_ADMIN_CONFIG:-$(dirname "$0")/admin.properties}"
BIN="${KAFKA_BIN:-/opt/kafka/bin}"

kafka_acls()    { "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"; }
kafka_configs() { "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"; }
kafka_topics()  { "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"; }

# MASH_KAFKA_PASSWORD_<NAME>, NAME upper-cased with '-' as '_'.
password_of() {
  var="MASH_KAFKA_PASSWORD_$(echo "$1" | tr 'a-z-' 'A-Z_')"
  eval "value=\${$var:-}"
  if [ -z "$value" ]; then
    echo "users.sh: $var is not set" >&2
    return 1
  fi
  printf '%s' "$value"
}
