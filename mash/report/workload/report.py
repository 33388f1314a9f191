"""The workload report: its figures (``build``) and its words (``markdown``).

The question a MASH manager asks every week: with the staff on each shift,
what share of RED contacts will be decided within 4 hours, and how many
people are needed to keep it at the target? ``build`` measures the demand
(given), simulates the staffing plan, searches for the smallest plan that
meets the target and traces timeliness against staff on shift. Pure: the
caller reads the case views and writes the files.
"""

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from contracts.contact import Rag
from mash.report.markdown import table
from mash.report.period import LONDON
from mash.report.workload import model, staffing
from mash.report.workload.assumptions import ACTIVITIES, PEOPLE, RAGS, Assumptions
from mash.report.workload.demand import WEEKS_A_MONTH, Demand
from mash.report.workload.model import Prediction
from mash.report.workload.staffing import Search, StaffingPlan

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Every post scaled by these, for the chart of timeliness against staff.
CURVE = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3)


@dataclass(frozen=True)
class CurvePoint:
    scale: float
    people_hours: float
    shares: tuple[tuple[Rag, float | None], ...]
    research: float | None   # the worst agency's share answered within the window
    busiest: tuple[str, float] | None = None   # the role with the highest utilisation


@dataclass(frozen=True)
class Workload:
    source: str                      # where the history came from, in words
    as_of: datetime
    assumptions: Assumptions
    demand: Demand
    measured: Demand                 # before any scaling
    plan: StaffingPlan
    predicted: Prediction
    target: float
    research_target: float
    search: Search | None
    recommended: Prediction | None
    curve: tuple[CurvePoint, ...]
    runs: int
    horizon_weeks: float


def _simulate(demand: Demand, assumptions: Assumptions, plan: StaffingPlan, weeks: float,
              runs: int, seed: int) -> Prediction:
    return model.pool([model.simulate(demand, assumptions, plan, weeks=weeks, seed=seed + i)
                       for i in range(runs)])


def _scaled(plan: StaffingPlan, k: float) -> StaffingPlan:
    out = plan
    for s in plan.shifts:
        for role, n in s.staff.items():
            out = out.with_count(s.name, role, max(0, math.floor(n * k + 0.5)))
    return out


def curve(demand: Demand, assumptions: Assumptions, plan: StaffingPlan, *, weeks: float,
          seed: int, runs: int = 1, scales: Iterable[float] = CURVE) -> tuple[CurvePoint, ...]:
    """Every post of ``plan`` scaled by each of ``scales`` (rounded), each
    simulated on the same runs as the search judged plans on."""
    out: list[CurvePoint] = []
    for k in scales:
        scaled = _scaled(plan, k)
        if any(c.people_hours == scaled.people_hours() for c in out):
            continue   # rounding gave the same plan
        p = _simulate(demand, assumptions, scaled, weeks, runs, seed)
        shares = [r.share for r in p.research if r.share is not None]
        used = [(r.role, u) for r in p.roles if (u := r.utilisation) is not None]
        out.append(CurvePoint(k, scaled.people_hours(),
                              tuple((rag, p.share(rag)) for rag in RAGS),
                              min(shares) if shares else None,
                              max(used, key=lambda x: x[1]) if used else None))
    return tuple(out)


def build(demand: Demand, assumptions: Assumptions, plan: StaffingPlan, *, source: str,
          as_of: datetime, target: float, research_target: float | None = None,
          measured: Demand | None = None, weeks: float = 4.0, runs: int = 3, seed: int = 1,
          search: bool = True, budget: int = 80,
          progress: Callable[[str], None] | None = None) -> Workload:
    """Every figure of the report. ``demand`` is what is simulated (the
    measured demand, or it scaled to another volume: then ``measured`` is the
    original)."""
    say = progress or (lambda _text: None)
    on_time = target if research_target is None else research_target
    say(f"simulating the plan '{plan.version}': {runs} run(s) of {weeks:g} weeks")
    predicted = _simulate(demand, assumptions, plan, weeks, runs, seed)
    found: Search | None = None
    recommended: Prediction | None = None
    points: tuple[CurvePoint, ...] = ()
    if search and demand.per_week() > 0:
        say("searching for the smallest staffing that meets the target")
        start = model.floor_plan(demand, assumptions, plan)
        found = staffing.smallest(start, model.trial(
            demand, assumptions, target=target, research_target=on_time, weeks=weeks,
            seed=seed, runs=runs), budget=budget)
        recommended = _simulate(demand, assumptions, found.plan, weeks, runs, seed)
        say("tracing timeliness against staff on shift")
        points = curve(demand, assumptions, found.plan, weeks=weeks, seed=seed, runs=runs)
    return Workload(source, as_of, assumptions, demand, measured or demand, plan, predicted,
                    target, on_time, found, recommended, points, runs, weeks)


# --- the words ----------------------------------------------------------------

def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def _minutes(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if value < 120:
        return f"{value:.0f} min"
    return f"{value / 60:.1f} h"


def hour_label(hour: int) -> str:
    return f"{DAY_NAMES[hour // 24]} {hour % 24:02d}:00"




def _rag_line(p: Prediction, a: Assumptions) -> str:
    return "; ".join(f"{rag.value} {_pct(p.share(rag))} within {a.timescales[rag]:g} h"
                     for rag in RAGS if p.rags[rag].cases)


def headlines(w: Workload) -> list[str]:
    d, a = w.demand, w.assumptions
    per_month = d.contacts_per_month()
    mix = ", ".join(f"{rag.value} {_pct(d.per_week(rag) / d.per_week())}" for rag in RAGS) \
        if d.per_week() else "none"
    lines = [f"Demand simulated: {per_month:,.0f} contacts a month "
             f"({d.per_week() * WEEKS_A_MONTH:,.0f} cases); RAG mix {mix}."]
    if d is not w.measured:
        lines.append(f"Measured: {w.measured.contacts_per_month():,.0f} contacts a month, "
                     f"scaled to {per_month:,.0f} with the same hours, RAG mix and agencies.")
    seen = sum(1 for h in range(168) if any(w.measured.arrivals[r][h] for r in RAGS))
    if seen < 168 * 0.75:
        lines.append(f"Caution: only {seen} of the week's 168 hours saw a case in the period "
                     f"({sum(w.measured.cases.values())} cases over {w.measured.weeks:.1f} weeks). "
                     "The model takes the others to bring none, so what it says of those hours "
                     "rests on no data: measure more weeks.")
    lines.append(f"With the staffing plan '{w.plan.version}' ({w.plan.people_hours():,.0f} "
                 f"people-hours a week), the model predicts {_rag_line(w.predicted, a)}.")
    if w.search is not None and w.recommended is not None:
        s = w.search
        verdict = "meets" if s.meets else "does not meet"
        lines.append(f"The smallest staffing found that {verdict} the target of {_pct(w.target)} "
                     f"(every RAG within its timescale, every agency within its research "
                     f"window at {_pct(w.research_target)}, nobody hands-on for more than "
                     f"{_pct(a.casework_share)} of a shift): {s.plan.people_hours():,.0f} "
                     f"people-hours a week, predicting {_rag_line(w.recommended, a)}"
                     + (f" ({s.stopped})" if s.stopped else "") + ".")
    return lines


def _measured_vs_assumed(w: Workload) -> list[str]:
    a = w.assumptions
    rows = [["Arrivals by hour of the week and RAG", "measured",
             "case views: the first contact's receipt and the triage RAG"],
            ["Contacts per case", "measured", "case views: contacts joined to each case"],
            ["Agencies asked, by RAG", "measured", "case views: each agency's line"],
            ["Research turnaround, time to decision, share decided in time", "measured",
             "case views: answers, the first decision (shown; the model predicts them)"],
            ["Timescales (RED/AMBER/GREEN hours)", "assumed (settings)",
             a.sources.get("timescales", "")],
            ["Research windows (hours)", "assumed (settings)",
             a.sources.get("research_window", "")],
            [f"Share of a shift for casework ({_pct(a.casework_share)})", "assumed",
             a.sources.get("people", "")]]
    for name in ACTIVITIES:
        work = a.activity(name)
        rows.append([f"Minutes of {name} ({work.role}, per {work.per})", "assumed",
                     work.source])
    for agency, work in a.research.items():
        rows.append([f"Minutes of research: {agency}", "assumed", work.source])
    return table(["Figure", "Measured or assumed", "Source"], rows, text=3)


def _plantable(plan: StaffingPlan, other: StaffingPlan | None = None) -> list[str]:
    roles = [r for r in (*PEOPLE, *sorted(set(plan.roles) - set(PEOPLE)))
             if r in plan.roles or (other is not None and r in other.roles)]
    header = ["Shift", "Hours", *roles, "People-hours a week"]
    rows = []
    for s in plan.shifts:
        days = ", ".join(DAY_NAMES[d] for d in s.days)
        hours = f"{days} {s.start // 60:02d}:{s.start % 60:02d}-{s.end // 60:02d}:{s.end % 60:02d}"
        cells = []
        for role in roles:
            n = s.staff.get(role, 0)
            if other is not None:
                was = other.count(s.name, role) if role in other.shift(s.name).staff else 0
                cells.append(f"{n} ({was})" if n != was else str(n))
            else:
                cells.append(str(n))
        rows.append([s.name, hours, *cells,
                     f"{sum(s.staff.values()) * s.hours():,.0f}"])
    return table(header, rows, text=2)


def _prediction_tables(p: Prediction, a: Assumptions, target: float) -> list[str]:
    out = table(["RAG", "Timescale", "Cases simulated", "Decided in time", "p50", "p90", "p95",
                  "Undecided at the end"],
                 ([rag.value, f"{a.timescales[rag]:g} h", str(p.rags[rag].cases),
                   _pct(p.share(rag)) + (" ✗" if (p.share(rag) or 1) < target else ""),
                   _minutes(p.rags[rag].p50), _minutes(p.rags[rag].p90),
                   _minutes(p.rags[rag].p95), str(p.rags[rag].undecided)]
                  for rag in RAGS), text=2)
    out += ["", "Utilisation: hands-on work over people-hours on duty (above 100%: work "
                f"finished after the shift ended; ✗ above the {_pct(a.casework_share)} of a "
                "shift available for casework):", ""]
    out += table(["Role", "Busy hours", "On duty hours", "Utilisation"],
                  ([r.role, f"{r.busy_hours:,.0f}", f"{r.on_duty_hours:,.0f}",
                    _pct(r.utilisation) + (" ✗" if (r.utilisation or 0) > a.casework_share
                                           else "")] for r in p.roles))
    out += ["", "Research answered within the window:", ""]
    out += table(["Agency", "Enquiries", "Within the window"],
                  ([r.agency, str(r.asked), _pct(r.share)] for r in p.research))
    worst = p.worst(5, least=max(3, int(p.weeks)))
    if worst:
        out += ["", "The hours of arrival least often decided in time (all RAGs):", ""]
        out += table(["Arriving", "Cases", "Decided in time", "Mean time to decision"],
                      ([hour_label(h.hour), str(h.cases), _pct(h.within / h.cases),
                        _minutes(h.mean_minutes)] for h in worst))
    return out


def markdown(w: Workload, charts: Mapping[str, str] | None = None) -> str:
    """The report; ``charts`` maps ``arrivals`` and ``staff`` to PNG names."""
    charts = charts or {}
    d, m, a = w.demand, w.measured, w.assumptions

    def chart(key: str, alt: str) -> list[str]:
        return ["", f"![{alt}]({charts[key]})"] if key in charts else []

    out = ["# MASH workload: staff on each shift and the timescales", "",
           f"{w.source}. Demand measured from {m.start.astimezone(LONDON):%d %b %Y %H:%M} to "
           f"{m.end.astimezone(LONDON):%d %b %Y %H:%M} (Europe/London, {m.weeks:.1f} weeks). "
           f"Figures as at {w.as_of:%d %b %Y %H:%M} UTC. Assumptions version {a.version}; "
           f"staffing plan '{w.plan.version}'; target {_pct(w.target)}. Each prediction "
           f"pools {w.runs} simulated run(s) of {w.horizon_weeks:g} weeks after a week's "
           "warm-up.", ""]
    if not m.per_week():
        out += ["**No case was opened in the period.** There is no demand to simulate."]
        return "\n".join(out) + "\n"
    out += ["## Headlines", ""] + [f"- {line}" for line in headlines(w)]

    out += ["", "## Measured demand", "",
            "Cases opened (the first contact's receipt), by the RAG their decision timescale "
            "ran at: the triage RAG, or the rules' proposal where it raised it.", ""]
    out += table(["RAG", "Cases", "Cases a week", "Contacts per case", "Agencies asked per case"],
                  ([rag.value, str(m.cases[rag]), f"{m.per_week(rag):.1f}",
                    f"{m.contacts_per_case[rag]:.2f}", f"{sum(m.asked[rag].values()):.1f}"]
                   for rag in RAGS))
    out += chart("arrivals", "Arrivals by hour of the week")
    out += ["", "The busiest hours of the week (cases arriving, on average):", ""]
    out += table(["Hour", "Cases an hour"],
                  ([hour_label(h), f"{n:.2f}"] for h, n in m.busiest_hours(5)))
    out += ["", "Each agency's answers, from the case's opening (measured):", ""]
    out += table(["Agency", "Asked", "Answered", "Within the research window", "p50", "p90"],
                  ([t.agency, str(t.asked), str(t.answered),
                    _pct(t.within_window / t.asked if t.asked else None),
                    _minutes(t.p50), _minutes(t.p90)] for t in m.research))
    out += ["", "What the hub achieved (measured): the first decision against the RAG "
                "timescale.", ""]
    out += table(["RAG", "Decided in time", "Late", "Still open in time", "Share in time",
                   "p50", "p90", "Decided by a person"],
                  ([rag.value, str(s.within), str(s.late), str(s.open), _pct(s.share),
                    _minutes(s.p50), _minutes(s.p90), str(s.by_people)]
                   for rag, s in m.decisions.items()))

    out += ["", "## What is measured and what is assumed", "",
            "A practitioner's minutes are in no event: they come from the assumptions file "
            f"(version {a.version}), which a MASH edits to its own figures.", ""]
    out += _measured_vs_assumed(w)

    out += ["", f"## Simulated timeliness under the plan '{w.plan.version}'", ""]
    out += _plantable(w.plan)
    out += ["", *_prediction_tables(w.predicted, a, w.target)]
    if d is m and any(s.resolved for s in m.decisions.values()):
        out += ["", "Predicted against seen (the same plan only if the history was worked "
                    "with it):", ""]
        out += table(["RAG", "Seen in the history", "Predicted", "Difference"],
                      ([rag.value, _pct(m.decisions[rag].share), _pct(w.predicted.share(rag)),
                        f"{100 * ((w.predicted.share(rag) or 0) - (m.decisions[rag].share or 0)):+.1f} pp"]
                       for rag in RAGS if m.decisions[rag].resolved and w.predicted.rags[rag].cases))

    if w.search is not None and w.recommended is not None:
        s = w.search
        out += ["", f"## Staff needed to meet {_pct(w.target)}", "",
                "The smallest staffing found on the plan's shifts: from the offered load on "
                "each post (rounded up), one person added at a time where the waiting was, "
                "then one taken off each post in turn wherever the target still held. "
                f"{s.trials} simulated plans" + (f"; {s.stopped}" if s.stopped else "") + ". "
                "In brackets: the plan's number, where it differs.", ""]
        out += _plantable(s.plan, w.plan)
        out += ["", f"People-hours a week: {s.plan.people_hours():,.0f} "
                    f"(the plan: {w.plan.people_hours():,.0f})."]
        out += ["", *_prediction_tables(w.recommended, a, w.target)]
        out += chart("staff", "Timeliness against staff on shift")
        if w.curve:
            out += ["", "Every post scaled together (the recommended plan = 1.0). A smaller "
                        "plan can be in time and still not meet the target: its busiest role is "
                        f"hands-on for more than the {_pct(a.casework_share)} of a shift "
                        "available for casework (✗).", ""]
            out += table(["Scale", "People-hours a week", *(r.value for r in RAGS),
                           "Worst agency in window", "Busiest role"],
                          ([f"{c.scale:.2f}", f"{c.people_hours:,.0f}",
                            *(_pct(s_) for _, s_ in c.shares), _pct(c.research),
                            "-" if c.busiest is None else f"{c.busiest[0]} {_pct(c.busiest[1])}"
                            + (" ✗" if c.busiest[1] > a.casework_share else "")]
                           for c in w.curve))
        out += ["", "<details><summary>The search, step by step</summary>", ""]
        out += table(["Change", "Kept", "People-hours", "Result"],
                      ([st.change, "yes" if st.kept else "no", f"{st.people_hours:,.0f}",
                        st.summary] for st in s.steps))
        out += ["", "</details>"]
    out += ["", "## Notes", "",
            "- The queue is worked RED first, then the least time left, as the desk's tray "
            "sorts it; nobody is interrupted: a RED waits for the next free person.",
            "- A person whose shift ends finishes what is in hand; nobody starts early.",
            "- The social worker collates when every agency asked has answered or the "
            "research window has passed; a late answer still costs its researcher's time.",
            "- Timescales run in clock hours from the first contact's receipt to the "
            "manager's first decision, at the triage RAG or the proposal's where it raised it; "
            "the model works a case at that RAG from its arrival.",
            "- The model simulates the hub's own activity set only; a practitioner's other "
            "duties (strategy meetings, visits, supervision, leave) are not in it: staff on "
            "shift is people at the MASH's work, not headcount."]
    return "\n".join(out) + "\n"
