"""The model against a history whose truth is known.

A fair test of a queueing model asks whether, told only what the hub's
records say, it predicts the timeliness the hub actually had. So:

- **An independent history.** ``history.run`` is its own event loop
  (``heapq``), not SimPy, and its arrivals come from a smooth intensity
  over the week drawn by thinning, not from the hourly rates the model uses.
  What the two share is the truth the test is allowed to know: the service
  process (the assumed minutes and their spread) and the hub's rules of
  work (the order of the queue, the research window, the shifts).
- **The model sees only the records.** It is given the demand measured from
  the generated case views (arrivals by hour of week and RAG, contacts per
  case, agencies asked), as it would be on a real hub; never the profile.
- **Other random numbers and a long horizon.** Half a year of history
  against two quarters of simulation on other seeds: about 900 RED cases
  each side, so the sampling error of each share is about a point.
- **A regime where it matters.** The staffing leaves RED at about 88% in
  time and research answers late for the thinly staffed agencies, so a
  wrong queue or a wrong arrival pattern shows; a hub where everything is
  100% would pass any model.

The last two tests show the check can fail: a model that works the queue
first come, first served, or ignores the hour of the week, misses by more
than 3 points.
"""

from datetime import datetime
from importlib.resources import files
from types import MappingProxyType

import pytest

from contracts.contact import Rag
from mash.report.workload import history, model
from mash.report.workload.assumptions import RAGS, parse
from mash.report.workload.demand import Demand, measure
from mash.report.workload.model import Prediction
from mash.report.workload.staffing import parse as plan_of

ASSUMED = parse(files("mash.report.workload").joinpath("assumptions.toml").read_text("utf-8"))
TOLERANCE = 0.03
PROFILE = history.Profile(
    contacts_per_month=900,
    police_rags=MappingProxyType({Rag.RED: 0.20, Rag.AMBER: 0.30, Rag.GREEN: 0.50}),
    office_rags=MappingProxyType({Rag.RED: 0.15, Rag.AMBER: 0.35, Rag.GREEN: 0.50}))
TRUTH = plan_of("""
version = "validation"

[[shift]]
name = "weekday day"
days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
start = "08:00"
end = "18:00"
[shift.staff]
referral-advisor = 1
social-worker = 1
manager = 1
police = 1
health = 1
education = 1
childrens-social-care = 1
probation = 1
housing = 1

[[shift]]
name = "weekday night"
days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
start = "18:00"
end = "08:00"
[shift.staff]
referral-advisor = 1
social-worker = 1
manager = 1
police = 1
health = 1
childrens-social-care = 1

[[shift]]
name = "weekend"
days = ["Sat", "Sun"]
start = "08:00"
end = "08:00"
[shift.staff]
referral-advisor = 1
social-worker = 1
manager = 1
police = 1
health = 1
childrens-social-care = 1
""")
HISTORY_WEEKS = 26


@pytest.fixture(scope="module")
def measured() -> Demand:
    views, start, end = history.generate(PROFILE, ASSUMED, TRUTH, weeks=HISTORY_WEEKS, seed=11,
                                         start=datetime.fromisoformat("2026-01-05T00:00+00:00"))
    return measure(views, start, end, ASSUMED)


def predict(demand: Demand, discipline: model.Discipline = "priority") -> Prediction:
    return model.pool([model.simulate(demand, ASSUMED, TRUTH, weeks=HISTORY_WEEKS / 2,
                                      seed=100 + i, discipline=discipline) for i in range(2)])


@pytest.fixture(scope="module")
def predicted(measured: Demand) -> Prediction:
    return predict(measured)


def errors(measured: Demand, p: Prediction) -> dict[str, float]:
    """Predicted minus seen, in shares, for each RAG and each agency."""
    out: dict[str, float] = {}
    for rag in RAGS:
        seen, guess = measured.decisions[rag].share, p.share(rag)
        assert seen is not None
        assert guess is not None
        out[rag.value] = guess - seen
    for t in measured.research:
        mine = next(r for r in p.research if r.agency == t.agency)
        assert mine.share is not None
        out[t.agency] = mine.share - t.within_window / t.asked
    return out


def test_the_history_is_a_regime_where_the_answer_matters(measured: Demand) -> None:
    red = measured.decisions[Rag.RED]
    assert red.resolved > 800
    assert red.share is not None
    assert 0.80 < red.share < 0.95
    late_agencies = [t for t in measured.research if t.within_window / t.asked < 0.9]
    assert late_agencies, "some agency answers late in this history"


def test_predicted_timeliness_is_within_3_points_of_the_history(
        measured: Demand, predicted: Prediction) -> None:
    found = errors(measured, predicted)
    worst = max(found, key=lambda k: abs(found[k]))
    assert abs(found[worst]) <= TOLERANCE, (worst, found)
    assert abs(found["RED"]) <= TOLERANCE


def test_a_first_come_first_served_model_misses(measured: Demand) -> None:
    found = errors(measured, predict(measured, "fifo"))
    assert abs(found["RED"]) > TOLERANCE


def test_a_model_blind_to_the_hour_of_the_week_misses(measured: Demand) -> None:
    found = errors(measured, predict(measured.flattened()))
    assert max(abs(e) for e in found.values()) > TOLERANCE
