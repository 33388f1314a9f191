"""Settings shared by every service, read from the environment.

Defaults point at the embedded stack that `mash up` starts, so a service run
by hand on a developer's machine finds the broker and database without any
configuration. Production sets every one of these (see docker-compose.yml).
"""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # Apache Kafka supports idempotent producers and production turns this on.
    # The embedded tansu broker (memory engine) answers InitProducerId with an
    # error, so the embedded default is off; consumers deduplicate by event id
    # either way, which is what actually prevents doubles downstream.
    kafka_enable_idempotence: bool = False
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 3_000
    # retryWrites=false: SecantusDB slows from ~1,200 to ~170 inserts/s after
    # 10k writes with retryable writes on. Harmless against MongoDB.
    mongo_uri: str = "mongodb://127.0.0.1:27117/?retryWrites=false&directConnection=true"
    log_level: str = "INFO"
    # How often the outbox relay looks for unsent events when nothing has
    # woken it; commits in this process wake it immediately.
    outbox_poll_seconds: float = 0.5
