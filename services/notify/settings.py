from pydantic import Field

from plumbing.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    database: str = "mash_notify"
    metrics_port: int = Field(default=9103, ge=0, le=65535)
    # How often notify looks for outcomes not acknowledged in their timescale.
    sweep_seconds: float = Field(default=5.0, gt=0)
    # Test and demo only: acknowledge within this many seconds of routing,
    # instead of the outcome's own timescale (act_by).
    ack_window_seconds: float | None = Field(default=None, gt=0)
