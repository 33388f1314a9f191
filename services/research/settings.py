from pydantic import model_validator

from plumbing.settings import ServiceSettings


class ResearchSettings(ServiceSettings):
    agency: str = "police"
    # Each agency's own database; the default follows the agency's name.
    database: str = ""
    seed_population: int = 400
    seed: int = 2026

    @model_validator(mode="after")
    def _default_database(self) -> "ResearchSettings":
        if not self.database:
            self.database = "mash_research_" + self.agency.replace("-", "_")
        return self
