"""The assumptions file: the packaged one parses, says where every figure
comes from, and a broken one is refused with the reason."""

from importlib.resources import files

import pytest

from contracts.contact import Rag
from mash.report.workload.assumptions import ACTIVITIES, AssumptionsError, parse

PACKAGED = files("mash.report.workload").joinpath("assumptions.toml").read_text("utf-8")


def test_the_packaged_file_has_a_version_and_a_source_for_every_figure() -> None:
    a = parse(PACKAGED)
    assert a.version
    assert a.timescales == {Rag.RED: 4.0, Rag.AMBER: 24.0, Rag.GREEN: 72.0}
    assert a.timescale_minutes(Rag.RED) == 240
    assert a.window_minutes(Rag.AMBER) == 360
    assert 0 < a.casework_share <= 1
    for name in ACTIVITIES:
        assert a.activity(name).source
        assert all(a.activity(name).mean(r) > 0 for r in Rag)
    for work in a.research.values():
        assert work.source


def test_an_agency_without_its_own_minutes_takes_the_default() -> None:
    a = parse(PACKAGED)
    other = a.research_of("lado")
    assert other.role == "lado"
    assert other.minutes == a.research["default"].minutes
    assert a.research_of("police").minutes == a.research["police"].minutes


def _without(line_start: str) -> str:
    return "\n".join(line for line in PACKAGED.splitlines() if not line.startswith(line_start))


@pytest.mark.parametrize(("text", "says"), [
    (_without("version"), "version"),
    (PACKAGED.replace("[activity.feedback]", "[activity.gossip]"), "feedback"),
    (PACKAGED.replace("RED = 15, AMBER = 15, GREEN = 10", "RED = 15, AMBER = -1, GREEN = 10"),
     "activity.screening.minutes.AMBER"),
    (PACKAGED.replace("RED = 4\n", "RED = 0\n"), "timescales.RED"),
    (PACKAGED.replace("casework_share = 0.8", "casework_share = 1.5"), "casework_share"),
    (PACKAGED.replace('source = "estimate"\n\n[activity.decision]',
                      '\n[activity.decision]'), "activity.recommendation.source"),
    ("version = ", "not TOML"),
])
def test_a_broken_file_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(AssumptionsError, match=says.replace(".", r"\.")):
        parse(text)
