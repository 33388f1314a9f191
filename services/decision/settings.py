from pydantic import Field

from plumbing.settings import ServiceSettings


class DecisionSettings(ServiceSettings):
    database: str = "mash_decision"
    # How often the sweeper looks for cases whose research deadline passed.
    sweep_seconds: float = Field(default=5.0, gt=0)
