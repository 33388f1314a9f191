"""Settings shared by every service, read from the environment.

Defaults point at the embedded stack that `mash up` starts, so a service run
by hand on a developer's machine finds the broker and database without any
configuration. Production sets every one of these (see docker-compose.yml).
"""

from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # Apache Kafka supports idempotent producers and production turns this on.
    # The embedded tansu broker (memory engine) answers InitProducerId with an
    # error, so the embedded default is off; consumers deduplicate by event id
    # either way, which is what actually prevents doubles downstream.
    kafka_enable_idempotence: bool = False
    # Production authenticates every service as its own principal (SASL/SCRAM-
    # SHA-512, ACLs in deploy/kafka/acls.sh); the embedded broker has no SASL.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # SASL_SSL: the CA that signed the broker's certificate (production: the
    # MASH's own, deploy/tls/make-certs.sh). Unset, the system's CAs are
    # trusted, as for a managed Kafka with a public certificate.
    kafka_ssl_cafile: Path | None = None
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 3_000
    # How long the broker may hold a fetch that finds nothing. Apache Kafka
    # answers it as soon as a message arrives (production sets 500 ms); the
    # embedded tansu holds it the whole interval, so a hop waits up to this
    # long, and every idle consumer asks again this often: at 50 ms the idle
    # stack used 0.96 cores (tansu 0.48) and at 200 ms 0.35 (tansu 0.13),
    # while a RED contact behind 500 GREEN took 2.1 s (issue 16's bench).
    kafka_fetch_max_wait_ms: int = Field(default=200, ge=0)
    # A consumer handles what one poll returns, up to this many records, in
    # one transaction (plumbing.consumer). A poll returns as soon as anything
    # has arrived, so a lone RED contact is not held back for a batch to fill;
    # an idle consumer looks again after twice the timeout.
    kafka_max_records: int = Field(default=100, ge=1, le=1000)
    kafka_batch_timeout_ms: int = Field(default=50, ge=1)
    # retryWrites=false: SecantusDB slows from ~1,200 to ~170 inserts/s after
    # 10k writes with retryable writes on. Harmless against MongoDB.
    # maxIdleTimeMS: SecantusDB drops a connection idle for 300 s, and the
    # driver's next use of it fails (AutoReconnect); the driver now retires
    # its idle connections first.
    mongo_uri: str = ("mongodb://127.0.0.1:27117/?retryWrites=false&directConnection=true"
                      "&maxIdleTimeMS=240000")
    log_level: str = "INFO"
    # One JSON object per line (production, log shippers); `text` for a person.
    log_format: Literal["json", "text"] = "json"
    # /metrics and /health. Each service has its own default port so several
    # run side by side on one machine; `mash up` and compose set it.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    # How often the platform gauges (outbox backlog, consumer lag) are read.
    metrics_seconds: float = Field(default=5.0, gt=0)
    # How often the outbox relay looks for unsent events when nothing has
    # woken it; commits in this process wake it immediately.
    outbox_poll_seconds: float = 0.5
    # Also wake the relay from a change stream on the outbox, for events
    # written by another process (a second instance, a re-drive). Off: each
    # process's own commits wake its relay at once and polling covers the
    # rest, while on SecantusDB the nine streams cost ~157 getMores per
    # contact, nearly half of all database operations (bench/pipeline.py).
    outbox_change_stream: bool = False
    # Re-drive (`mash reconcile`, and after every start of the embedded
    # stack): outbox events created within this many seconds are published
    # again; consumers skip what they have already handled. 7 days is longer
    # than any research deadline.
    redrive_window_seconds: float = 7 * 24 * 3600
    # The service's audit key (64 hex characters: 32 random bytes), a file kept
    # outside the database: every audit entry is an HMAC under it, so whoever
    # can write the database but lacks the key cannot rewrite the chain. No
    # file, no start. `mash up` makes one per service in <MASH_HOME>/audit-keys/;
    # production mounts /etc/mash/audit/<service>.key.
    audit_key_file: Path | None = None

    # The outbox is stalled when its oldest unsent event is older than this:
    # /health then says "degraded", with the event and its error.
    outbox_stall_seconds: float = Field(default=60.0, gt=0)
    # Messages kept whole in the service's quarantine: a rejected contact for
    # this many days (the sender may ask for it back), then deleted.
    quarantine_days: float = Field(default=30.0, gt=0)
    # An Ed25519 private key (PEM): every event the service emits is signed
    # with it, as the service's own name. Research services sign their
    # findings so (decision refuses a finding its agency did not sign);
    # `mash up` makes one per research service, production mounts it.
    signing_key_file: Path | None = None

    def kafka_client_options(self) -> dict[str, Any]:
        """aiokafka keyword arguments for the configured security (none by default)."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return {}
        if not self.kafka_sasl_username or self.kafka_sasl_password is None:
            raise ValueError(f"MASH_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                             "MASH_KAFKA_SASL_USERNAME and MASH_KAFKA_SASL_PASSWORD")
        options: dict[str, Any] = {
            "security_protocol": self.kafka_security_protocol,
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.kafka_sasl_username,
            "sasl_plain_password": self.kafka_sasl_password.get_secret_value()}
        if self.kafka_security_protocol == "SASL_SSL":
            # Checks the broker's certificate and host name: against the CA
            # file when set, otherwise against the system's CAs.
            cafile = self.kafka_ssl_cafile
            if cafile is not None and not cafile.is_file():
                raise ValueError(f"MASH_KAFKA_SSL_CAFILE={cafile} is not a file")
            options["ssl_context"] = create_ssl_context(cafile=cafile)
        return options
