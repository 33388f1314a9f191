# Shared by users.sh and acls.sh: the Kafka principals of the MASH.
# One per service and per agency research service, the operator, and one per
# signer that submits contacts. Override the agencies with MASH_AGENCIES.
AGENCIES="${MASH_AGENCIES:-police,health,education,childrens-social-care,probation,housing}"
AGENCIES=$(echo "$AGENCIES" | tr ',' ' ')
CHANNELS="contact-centre early-help other-la"
# The localhost-only PLAINTEXT listener inside the kafka container (User:ANONYMOUS,
# a super user there and unreachable from any other container).
BOOTSTRAP="${KAFKA_ADMIN_BOOTSTRAP:-localhost:9094}"
BIN="${KAFKA_BIN:-/opt/kafka/bin}"

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
