from pathlib import Path

from pydantic import Field, model_validator

from contracts.agencies import agencies
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
    # Enquiries the worker answers in one transaction, most urgent first: a
    # transaction per enquiry cost more than the answering.
    answer_batch: int = Field(default=20, ge=1, le=500)
    # The public keys of the services this one trusts (TOML, `[keys] desk =
    # "<base64>"`; `mash keys new-service desk`): a researcher's note is taken
    # only when signed by the desk. Unset, every note is refused.
    service_keys_file: Path | None = None

    # Unset: the agency's place in the agencies list after 9110 (9110 police,
    # ...); 0: any free port (reported when ready).
    metrics_port: int = Field(default=0, ge=0, le=65535)

    @model_validator(mode="after")
    def _defaults(self) -> "ResearchSettings":
        if not self.database:
            self.database = "mash_research_" + self.agency.replace("-", "_")
        if "metrics_port" not in self.model_fields_set:
            names = agencies()
            self.metrics_port = 9110 + (names.index(self.agency) if self.agency in names else 50)
        return self
