from pathlib import Path

from pydantic import Field

from judgement import CURRENT_VERSION
from plumbing.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    database: str = "mash_intake"
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    # How long each agency has to answer, by triage RAG. Partner checks run
    # inside the MASH's own decision windows (4h / 24h / 72h); these defaults
    # are the partner-information windows one hub uses (2h / 6h / 24h).
    research_window_red_seconds: float = Field(default=2 * 3600, gt=0)
    research_window_amber_seconds: float = Field(default=6 * 3600, gt=0)
    research_window_green_seconds: float = Field(default=24 * 3600, gt=0)
    # Intake does not know decisions: to intake a case is "open" for this
    # long after it was opened, and a new contact about one of its children
    # joins it as a re-contact. The decision service owns the real state.
    open_case_days: float = Field(default=30, gt=0)
    # The threshold model triage uses (judgement/rules/<version>.toml): the
    # same MASH_RULE_SET as the decision service, so the two cannot disagree.
    rule_set: str = CURRENT_VERSION
    # Two contacts from one agency about one household (same postcode and
    # family name, or same first address line) this close together are one
    # incident: the second joins the first's case.
    same_incident_hours: float = Field(default=24, gt=0)
    # Person index: at or above `link` the same person; from `possible` a
    # possible match for a practitioner; below, a new person. Measured with
    # `python -m bench.person_index`.
    person_link_threshold: float = Field(default=0.8, gt=0, le=1)
    person_possible_threshold: float = Field(default=0.7, gt=0, le=1)
    # Every contact is signed by its sender (Ed25519): the signers' public keys
    # (TOML, `[keys] <signer> = "<base64>"`; `mash keys new`). Without a file
    # no contact is accepted. A contact's `time` must be this close to now.
    public_keys_file: Path | None = None
    signature_window_seconds: float = Field(default=600, gt=0)
    # Refused before anything parses it (the rejection goes to its signer):
    # a contact's whole CloudEvent, and how many headers it may carry.
    max_contact_bytes: int = Field(default=256 * 1024, gt=0, le=1024 * 1024)
    max_contact_headers: int = Field(default=64, gt=0)
