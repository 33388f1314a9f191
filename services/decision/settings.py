from datetime import time, timedelta
from pathlib import Path

from pydantic import Field

import judgement
from contracts.contact import Rag
from plumbing.settings import ServiceSettings
from services.decision.calendar import WorkingCalendar
from services.decision.domain import Policy


class DecisionSettings(ServiceSettings):
    database: str = "mash_decision"
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    # How often the sweeper looks for passed research deadlines and timescales.
    sweep_seconds: float = Field(default=5.0, gt=0)
    # On: the rules authorise their own proposal and the decision is marked
    # 'rules' (the embedded stack and the demo). Off (production): a proposal
    # waits for a manager's `decide` command.
    auto_authorise: bool = False
    # The threshold model (judgement/rules/<version>.toml); intake triages
    # with the same MASH_RULE_SET.
    rule_set: str = judgement.CURRENT_VERSION
    # RAG decision windows, clock hours (local practice; the seeds' numbers).
    rag_window_red_hours: float = Field(default=4, gt=0)
    rag_window_amber_hours: float = Field(default=24, gt=0)
    rag_window_green_hours: float = Field(default=72, gt=0)
    # The working day, Europe/London; working-day timescales count only this.
    working_day_opens: time = time(9, 0)
    working_day_closes: time = time(17, 0)
    # Warn when this fraction of a timescale has gone.
    warn_fraction: float = Field(default=0.75, gt=0, lt=1)
    enquiry_window_hours: float = Field(default=24, gt=0)
    outcome_window_hours: float = Field(default=48, gt=0)
    out_of_hours_duty_hours: float = Field(default=4, gt=0)
    # Test and demo only: a timescale's length in seconds from its start,
    # e.g. MASH_TIMESCALE_SECONDS='{"decision-rag": 6, "outcome-48h": 20}'.
    timescale_seconds: dict[str, float] = Field(default_factory=dict)
    # The public keys of the services whose events decision must trust
    # (TOML, `[keys] "research-police" = "<base64>"`; `mash keys new-service`):
    # a finding is taken only when signed by its own agency's research service.
    service_keys_file: Path | None = None

    def policy(self) -> Policy:
        return Policy(
            auto_authorise=self.auto_authorise,
            rag_windows={Rag.RED: timedelta(hours=self.rag_window_red_hours),
                         Rag.AMBER: timedelta(hours=self.rag_window_amber_hours),
                         Rag.GREEN: timedelta(hours=self.rag_window_green_hours)},
            calendar=WorkingCalendar(opens=self.working_day_opens,
                                     closes=self.working_day_closes),
            warn_fraction=self.warn_fraction,
            enquiry_window=timedelta(hours=self.enquiry_window_hours),
            outcome_window=timedelta(hours=self.outcome_window_hours),
            out_of_hours_duty=timedelta(hours=self.out_of_hours_duty_hours),
            overrides={k: timedelta(seconds=v) for k, v in self.timescale_seconds.items()},
            ruleset=judgement.load(self.rule_set),
        )
