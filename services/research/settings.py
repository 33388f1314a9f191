from pathlib import Path

from pydantic import Field, model_validator

from plumbing.settings import ServiceSettings


class ResearchSettings(ServiceSettings):
    agency: str = "police"
    # Each agency's own database; the default follows the agency's name.
    database: str = ""
    seed_population: int = 400
    seed: int = 2026
    # Where the agency's disclosure policy lives; the packaged one by default.
    policy_dir: Path | None = None
    # How long the worker sleeps when its queue is empty and nothing wakes it.
    queue_poll_seconds: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _default_database(self) -> "ResearchSettings":
        if not self.database:
            self.database = "mash_research_" + self.agency.replace("-", "_")
        return self
