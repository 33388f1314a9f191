"""The performance report's charts: matplotlib, Agg backend, PNG files.

matplotlib is imported here only, when charts are drawn, so no other `mash`
command pays for it.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from mash.report.performance import OUTCOMES, SHORT, Performance

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FILES = {
    "sources": "contacts_by_source.png",
    "agencies": "contacts_by_agency.png",
    "conversion": "conversion_by_source.png",
    "timeliness": "timeliness.png",
    "rag": "rag_changes.png",
}
RAG_COLOURS = {"RED": "#c0392b", "AMBER": "#e69f00", "GREEN": "#2e8b57", "not given": "#b0b0b0"}
OUTCOME_COLOURS = ("#9e9e9e", "#c7c7c7", "#56b4e9", "#0072b2", "#c0392b", "#f0f0f0")


def _short(code: str, label: str, width: int = 30) -> str:
    text = f"{code} {label}"
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def figure(height: float, width: float = 9) -> "Figure":
    """A blank figure on the Agg backend (every report's charts start here)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _sources(p: Performance) -> "Figure":
    fig = figure(1.2 + 0.35 * len(p.by_source))
    ax = fig.subplots()
    labels = [_short(s.code, s.label) for s in p.by_source][::-1]
    values = [s.contacts for s in p.by_source][::-1]
    bars = ax.barh(labels, values, color="#0072b2")
    ax.bar_label(bars, labels=[f"{v} ({100 * v / p.contacts:.1f}%)" for v in values], padding=3)
    ax.set_xlabel("contacts")
    ax.set_title(f"Contacts by source, {p.period.label}")
    ax.margins(x=0.25)
    return fig


def _agencies(p: Performance) -> "Figure":
    fig = figure(1.2 + 0.35 * len(p.by_agency))
    ax = fig.subplots()
    names = [a for a, _ in p.by_agency][::-1]
    values = [n for _, n in p.by_agency][::-1]
    bars = ax.barh(names, values, color="#56b4e9")
    ax.bar_label(bars, padding=3)
    ax.set_xlabel("contacts")
    ax.set_title(f"Contacts by referring agency, {p.period.label}")
    ax.margins(x=0.15)
    return fig


def _conversion(p: Performance) -> "Figure":
    fig = figure(1.6 + 0.4 * len(p.conversion))
    ax = fig.subplots()
    rows = p.conversion[::-1]
    labels = [_short(r.code, r.label) for r in rows]
    left = [0.0] * len(rows)
    series = [(SHORT[o], [100 * r.count(o) / r.contacts for r in rows]) for o in OUTCOMES]
    series.append(("Awaiting", [100 * r.awaiting / r.contacts for r in rows]))
    for (name, values), colour in zip(series, OUTCOME_COLOURS, strict=True):
        ax.barh(labels, values, left=left, label=name, color=colour, edgecolor="white")
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the source's contacts")
    ax.set_title(f"What each source's contacts led to, {p.period.label}")
    fig.legend(loc="outside lower center", ncol=6, fontsize="small")
    return fig


def _timeliness(p: Performance) -> "Figure":
    fig = figure(1.6 + 0.4 * len(p.timeliness))
    ax = fig.subplots()
    rows = p.timeliness[::-1]
    names = [t.name for t in rows]
    left = [0] * len(rows)
    for field, colour in (("met", "#2e8b57"), ("late", "#c0392b"), ("withdrawn", "#b0b0b0"),
                          ("open", "#e69f00")):
        values = [getattr(t, field) for t in rows]
        ax.barh(names, values, left=left, label=field, color=colour, edgecolor="white")
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("timescales")
    ax.set_title(f"Timescales of the cases opened in {p.period.label}")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def _rag(p: Performance) -> "Figure":
    fig = figure(3.5)
    ax = fig.subplots()
    stages = [name for name, _ in p.rag_stages]
    bottom = [0] * len(stages)
    for rag in ("RED", "AMBER", "GREEN", "not given"):
        values = [dict(counts)[rag] for _, counts in p.rag_stages]
        ax.bar(stages, values, bottom=bottom, label=rag, color=RAG_COLOURS[rag],
               edgecolor="white")
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_ylabel("decided cases")
    ax.set_title(f"RAG at each stage, cases opened in {p.period.label}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


def draw(p: Performance, out: Path) -> dict[str, str]:
    """Write every chart that has something to show into ``out``; returns
    section -> file name. A month without contacts gets none."""
    if not p.contacts:
        return {}
    makers = {"sources": _sources, "agencies": _agencies, "conversion": _conversion,
              "timeliness": _timeliness, "rag": _rag}
    drawn: dict[str, str] = {}
    for key, make in makers.items():
        if key == "timeliness" and not p.timeliness:
            continue
        if key == "rag" and not p.rag_cases:
            continue
        make(p).savefig(out / FILES[key], dpi=110)
        drawn[key] = FILES[key]
    return drawn
