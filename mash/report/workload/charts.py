"""The workload report's charts: matplotlib (Agg), PNG files.

- ``arrivals``: cases arriving per hour, by hour of the week and RAG;
- ``staff``: the share decided within the timescale, per RAG, against the
  people on shift (every post of the recommended plan scaled together).
"""

from pathlib import Path
from typing import TYPE_CHECKING

from mash.report.charts import RAG_COLOURS, figure
from mash.report.workload.assumptions import RAGS
from mash.report.workload.report import DAY_NAMES, Workload

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FILES = {"arrivals": "arrivals_by_hour_of_week.png", "staff": "timeliness_against_staff.png"}


def _arrivals(w: Workload) -> "Figure":
    fig = figure(3.8, width=10)
    ax = fig.subplots()
    d = w.demand
    hours = list(range(168))
    bottom = [0.0] * 168
    for rag in RAGS:
        values = list(d.arrivals[rag])
        ax.bar(hours, values, bottom=bottom, width=1.0, label=rag.value,
               color=RAG_COLOURS[rag.value], edgecolor="none")
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_xticks([24 * i + 12 for i in range(7)], DAY_NAMES)
    for i in range(1, 7):
        ax.axvline(24 * i - 0.5, color="#808080", linewidth=0.5)
    ax.set_xlim(-0.5, 167.5)
    ax.set_ylabel("cases an hour")
    scaled = "" if d is w.measured else f" (scaled to {d.contacts_per_month():,.0f} contacts a month)"
    ax.set_title(f"Cases arriving by hour of the week, Europe/London{scaled}")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def _staff(w: Workload) -> "Figure":
    fig = figure(4.2, width=10)
    ax = fig.subplots()
    xs = [c.people_hours for c in w.curve]
    for i, rag in enumerate(RAGS):
        ys = [100 * (c.shares[i][1] or 0) for c in w.curve]
        ax.plot(xs, ys, marker="o", label=f"{rag.value} within {w.assumptions.timescales[rag]:g} h",
                color=RAG_COLOURS[rag.value])
    ys = [100 * (c.research or 0) for c in w.curve]
    ax.plot(xs, ys, marker=".", linestyle="--", color="#0072b2",
            label="worst agency within its research window")
    busiest = [100 * c.busiest[1] if c.busiest else 0.0 for c in w.curve]
    ax.plot(xs, busiest, marker="x", linestyle=":", color="#808080",
            label="busiest role's utilisation")
    ax.axhline(100 * w.target, color="#404040", linewidth=0.8, linestyle=":",
               label=f"target {100 * w.target:.0f}%")
    ax.axhline(100 * w.assumptions.casework_share, color="#808080", linewidth=0.8,
               linestyle="--", label=f"casework share {100 * w.assumptions.casework_share:.0f}%")
    if w.search is not None:
        ax.axvline(w.search.plan.people_hours(), color="#808080", linewidth=0.8)
        ax.annotate("recommended", (w.search.plan.people_hours(), 5), fontsize="small",
                    rotation=90, ha="right")
    ax.set_xlabel("people on shift: people-hours a week (every post of the recommended plan "
                  "scaled together)")
    ax.set_ylabel("% in time; % of shift hands-on")
    ax.set_ylim(0, 125)
    ax.set_title("Timeliness against staff on shift (simulated)")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def draw(w: Workload, out: Path) -> dict[str, str]:
    """Write the charts that have something to show; section -> file name."""
    drawn: dict[str, str] = {}
    if w.demand.per_week() > 0:
        _arrivals(w).savefig(out / FILES["arrivals"], dpi=110)
        drawn["arrivals"] = FILES["arrivals"]
    if w.curve:
        _staff(w).savefig(out / FILES["staff"], dpi=110)
        drawn["staff"] = FILES["staff"]
    return drawn
