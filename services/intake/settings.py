from pydantic import Field

from plumbing.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    database: str = "mash_intake"
    # How long each agency has to answer, by triage RAG. Partner checks run
    # inside the MASH's own decision windows (4h / 24h / 72h); these defaults
    # are the partner-information windows one hub uses (2h / 6h / 24h).
    research_window_red_seconds: float = Field(default=2 * 3600, gt=0)
    research_window_amber_seconds: float = Field(default=6 * 3600, gt=0)
    research_window_green_seconds: float = Field(default=24 * 3600, gt=0)
