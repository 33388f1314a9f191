"""Where the embedded stack lives and listens."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from mash.credentials import OPERATOR, mongo_uri, passwords


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    home: Path = Path(".mash")
    kafka_port: int = 19092
    mongo_port: int = 27117
    topic_partitions: int = 3
    # Group joins on tansu take about half the session timeout: keep it short
    # on one machine so the stack is ready in seconds.
    kafka_session_timeout_ms: int = 3000
    kafka_heartbeat_interval_ms: int = 1000
    ready_timeout_seconds: float = 90.0
    # Services' /metrics and /health: intake, decision, notify from here,
    # research from here + 9 (9110 police, ...). 0: any free ports (tests).
    metrics_base_port: int = 9101
    # The desk's pages (and its /metrics, /health); 0: any free port (tests).
    desk_port: int = 8400
    # `mash up` starts Prometheus here when it is installed (Debian: prometheus).
    prometheus_port: int = 9090

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def operator_mongo_uri(self) -> str:
        """The operator's own user: reads any database, for the CLI and inspectors."""
        return mongo_uri(self.mongo_port, OPERATOR, passwords(self.home)[OPERATOR])
