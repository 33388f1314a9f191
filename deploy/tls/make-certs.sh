#!/bin/sh
# The MASH's own certificate authority and the certificates the production
# stack (docker-compose.yml) mounts. Run once before `docker compose up`:
#
#   deploy/tls/make-certs.sh [--force] [OUT_DIR]      (OUT_DIR: deploy/tls/out)
#
# OUT_DIR gets, each certificate signed by the CA (EC P-256, PEM):
#   ca.key, ca.crt              the CA. ca.crt is mounted everywhere; ca.key is
#                               mounted nowhere: keep it offline, since whoever
#                               holds it can mint a Kafka super user.
#   kafka.{key,crt,pem}         the broker (CN kafka-broker, the principal of its
#                               own inter-broker and controller traffic; SANs
#                               kafka, localhost, 127.0.0.1). kafka.pem = cert +
#                               key, Kafka's PEM keystore.
#   kafka-admin.{key,crt,pem}   a client certificate, CN kafka-admin: the
#                               principal of deploy/kafka/setup.sh inside the
#                               kafka container.
#   mongo.{key,crt,pem}         mongod (SANs mongo, localhost, 127.0.0.1).
#                               mongo.pem = cert + key (--tlsCertificateKeyFile).
#
# Idempotent: an existing key is never replaced unless --force is given (which
# makes everything, the CA included, again). A missing or expired certificate,
# or one the CA did not sign, is issued again for the key already there: to
# renew one, delete its .crt and run this again. Private keys and .pem files
# are mode 0600. The kafka image runs as uid 1000 (KAFKA_UID), so when run as
# root this gives that uid kafka.pem and kafka-admin.pem.
set -eu

usage() { sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

force=false
out=
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "make-certs.sh: unknown option $arg" >&2; exit 2 ;;
    *) if [ -n "$out" ]; then echo "make-certs.sh: one OUT_DIR only" >&2; exit 2; fi
       out=$arg ;;
  esac
done
out=${out:-$(dirname "$0")/out}
ca_days=${MASH_TLS_CA_DAYS:-3650}
days=${MASH_TLS_DAYS:-825}
kafka_uid=${KAFKA_UID:-1000}

command -v openssl >/dev/null || { echo "make-certs.sh: openssl is not installed" >&2; exit 1; }
umask 077
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
# A config of our own, so that the system's openssl.cnf adds no extensions.
printf '[req]\ndistinguished_name = dn\n[dn]\n' > "$work/req.cnf"

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
serial() { echo "0x7$(openssl rand -hex 15)"; }  # positive, random, 16 bytes

if $force; then
  rm -f "$out"/ca.key "$out"/ca.crt "$out"/kafka.* "$out"/kafka-admin.* "$out"/mongo.*
fi

if [ ! -f "$out/ca.key" ] || [ ! -f "$out/ca.crt" ]; then
  if ls "$out"/*.crt >/dev/null 2>&1 && [ ! -f "$out/ca.key" ]; then
    echo "make-certs.sh: $out has certificates but no ca.key; a new CA would not" \
         "vouch for them. Restore ca.key, or run again with --force." >&2
    exit 1
  fi
  [ -f "$out/ca.key" ] || new_key "$out/ca.key"
  cat > "$work/ca.ext" <<EXT
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EXT
  openssl req -new -key "$out/ca.key" -subj "/O=MASH/CN=MASH internal CA" \
    -config "$work/req.cnf" -out "$work/ca.csr"
  openssl x509 -req -in "$work/ca.csr" -signkey "$out/ca.key" -sha256 -days "$ca_days" \
    -set_serial "$(serial)" -extfile "$work/ca.ext" -out "$out/ca.crt" 2>/dev/null
  chmod 644 "$out/ca.crt"
  echo "made the CA: $out/ca.crt"
fi

# issue <name> <common name> <extendedKeyUsage> [subjectAltName]
issue() {
  name=$1 cn=$2 eku=$3 san=${4:-}
  key="$out/$name.key" crt="$out/$name.crt"
  [ -f "$key" ] || new_key "$key"
  if [ -f "$crt" ] && openssl verify -CAfile "$out/ca.crt" "$crt" >/dev/null 2>&1 \
      && openssl x509 -in "$crt" -noout -checkend 0 >/dev/null 2>&1 \
      && [ "$(openssl x509 -in "$crt" -noout -pubkey)" = "$(openssl pkey -in "$key" -pubout)" ]; then
    :  # still good
  else
    {
      echo "basicConstraints = critical, CA:FALSE"
      echo "keyUsage = critical, digitalSignature"
      echo "extendedKeyUsage = $eku"
      echo "subjectKeyIdentifier = hash"
      echo "authorityKeyIdentifier = keyid, issuer"
      [ -z "$san" ] || echo "subjectAltName = $san"
    } > "$work/$name.ext"
    openssl req -new -key "$key" -subj "/O=MASH/CN=$cn" -config "$work/req.cnf" \
      -out "$work/$name.csr"
    openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -sha256 \
      -days "$days" -set_serial "$(serial)" -extfile "$work/$name.ext" -out "$crt" 2>/dev/null
    chmod 644 "$crt"
    echo "issued $crt (CN=$cn${san:+, $san})"
  fi
  # Certificate then key, one file: Kafka's PEM keystore and mongod both read it.
  cat "$crt" "$key" > "$out/$name.pem"
  chmod 600 "$key" "$out/$name.pem"
}

# The broker presents kafka.pem both as a server and, to its own controller and
# inter-broker listeners, as a client.
issue kafka kafka-broker serverAuth,clientAuth "DNS:kafka,DNS:localhost,IP:127.0.0.1"
issue kafka-admin kafka-admin clientAuth
# mongod also connects to itself (replica set member checks) with its certificate.
issue mongo mongo serverAuth,clientAuth "DNS:mongo,DNS:localhost,IP:127.0.0.1"

if [ "$(id -u)" = 0 ]; then
  chown "$kafka_uid" "$out/kafka.pem" "$out/kafka-admin.pem"
elif [ "$(id -u)" != "$kafka_uid" ]; then
  echo "note: the kafka container reads kafka.pem and kafka-admin.pem as uid $kafka_uid:" \
       "sudo chown $kafka_uid $out/kafka.pem $out/kafka-admin.pem" >&2
fi
echo "certificates in $out"
