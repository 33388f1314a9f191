"""Where the embedded stack lives and listens."""

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.agencies import agencies
from mash.credentials import OPERATOR, mongo_uri, passwords

# A service runs as 1 to MAX_REPLICAS processes on the embedded stack.
MAX_REPLICAS = 8
# The desk keeps its sign-in sessions in memory and serves people on one port.
NOT_REPLICATED = ("desk",)


def service_names() -> list[str]:
    """Every service process, in the order ports are given out."""
    return ["intake", "decision", "notify", *(f"research-{a}" for a in agencies()), "desk"]


def parse_replicas(value: str) -> dict[str, int]:
    """``"decision=2,research-police=2"`` as ``{"decision": 2, "research-police": 2}``
    (checked by the caller); an empty string is no replicas."""
    found: dict[str, int] = {}
    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, equals, count = part.partition("=")
        name, count = name.strip(), count.strip()
        if not equals or not name or not count.isdigit():
            raise ValueError(f"MASH_REPLICAS: {part.strip()!r} is not <service>=<count>, "
                             "e.g. MASH_REPLICAS=decision=2,research-police=2")
        if name in found:
            raise ValueError(f"MASH_REPLICAS: {name} is named twice")
        found[name] = int(count)
    return found


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
    # A service's second replica is 100 above its first, the third 200, ...
    metrics_base_port: int = 9101
    # The desk's pages (and its /metrics, /health); 0: any free port (tests).
    desk_port: int = 8400
    # `mash up` starts Prometheus here when it is installed (Debian: prometheus).
    prometheus_port: int = 9090
    # How many processes of a service the stack runs, e.g.
    # MASH_REPLICAS="decision=2,research-police=2"; every other service runs
    # one. Replicas share the service's consumer groups, so the broker splits
    # each topic's partitions (topic_partitions) between them. The desk runs
    # one: it keeps sign-in sessions in memory.
    replicas: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)

    @field_validator("replicas", mode="before")
    @classmethod
    def _parse_replicas(cls, value: Any) -> Any:
        return parse_replicas(value) if isinstance(value, str) else value

    @field_validator("replicas")
    @classmethod
    def _check_replicas(cls, value: dict[str, int]) -> dict[str, int]:
        names = service_names()
        for name, count in value.items():
            if name in NOT_REPLICATED:
                raise ValueError(f"MASH_REPLICAS: the {name} runs as one process (it keeps "
                                 "sign-in sessions in memory)")
            if name not in names:
                raise ValueError(f"MASH_REPLICAS: no service is called {name!r}; one of "
                                 + ", ".join(n for n in names if n not in NOT_REPLICATED))
            if not 1 <= count <= MAX_REPLICAS:
                raise ValueError(f"MASH_REPLICAS: {name}={count}: a service runs 1 to "
                                 f"{MAX_REPLICAS} replicas")
        return value

    def replicas_of(self, service: str) -> int:
        return self.replicas.get(service, 1)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def operator_mongo_uri(self) -> str:
        """The operator's own user: reads any database, for the CLI and inspectors."""
        return mongo_uri(self.mongo_port, OPERATOR, passwords(self.home)[OPERATOR])
