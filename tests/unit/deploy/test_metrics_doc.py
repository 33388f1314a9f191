"""The name extraction the rule and dashboard tests rely on."""

import pytest

from plumbing.metrics import SET_ASIDE_REASONS
from services.decision.metrics import TIMESCALES
from services.intake.metrics import REJECTION_REASONS
from tests.unit.deploy.metrics_doc import (
    alert_names,
    documented_labels,
    documented_metrics,
    may_be_absent,
    metric_names,
    metrics_doc,
    recording_rules,
    undocumented_labels,
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (rag, band) (mash_timescales_open{timescale="decision-rag"})',
         {"mash_timescales_open"}),
        ("histogram_quantile(0.9, sum by (le, agency) "
         "(rate(mash_research_response_seconds_bucket[$__rate_interval])))",
         {"mash_research_response_seconds_bucket"}),
        ("time() - max by (agency) (mash_agency_last_answer_timestamp_seconds) > 900",
         {"mash_agency_last_answer_timestamp_seconds"}),
        ("sum(increase(mash_x_total[1d] offset 1h)) / (sum(rate(mash_y_total[5m])) > 0)",
         {"mash_x_total", "mash_y_total"}),
        ('mash:timescale_met:ratio{timescale=~"decision.*"} and on (timescale) up == 1e3',
         {"mash:timescale_met:ratio", "up"}),
        ("sum(mash_a) without (instance) or vector(0)", {"mash_a"}),
        ('mahs_typo{rag="RED"} * 3600', {"mahs_typo"}),
    ],
)
def test_metric_names_finds_every_selected_name(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_metrics_doc_is_parsed() -> None:
    metrics = documented_metrics()
    assert "mash_timescales_open" in metrics
    assert "mash_time_to_decision_seconds_bucket" in metrics
    assert "mash_research_response_seconds_count" in metrics
    assert "faststream_received_processed_messages_duration_seconds_bucket" in metrics
    assert "faststream_received_processed_messages_total" in metrics  # `name{status}`
    assert "mash_timescales_open_bucket" not in metrics  # a gauge, not a histogram
    assert "mash_outbox_set_aside_total" in metrics
    assert may_be_absent() == {
        "mash_timescales_open", "mash_timescale_seconds_left_min",
        "faststream_received_processed_messages_exceptions_total",
        "faststream_published_messages_exceptions_total",
    }
    assert recording_rules() == {
        "mash:decided_within_one_working_day:ratio",
        "mash:red_decided_within_4h:ratio",
        "mash:timescale_met:ratio",
    }
    assert alert_names() == {
        "MashRedCaseNearLimit", "MashTimescaleBreached", "MashAgencySilent",
        "MashDeadLettersWaiting", "MashConsumerLagGrowing", "MashServiceDown",
        "MashOutboxStalled", "MashOutboxEventSetAside",
    }


def test_labels_are_checked_against_the_metrics_they_belong_to() -> None:
    labels = documented_labels()
    assert {"timescale", "rag", "band", "service", "instance"} <= labels["mash_timescales_open"]
    assert "le" in labels["mash_research_response_seconds_bucket"]
    assert {"status", "handler"} <= labels["faststream_received_processed_messages_total"]
    assert labels["mash:timescale_met:ratio"] == {"timescale"}
    assert not undocumented_labels(
        'sum by (rag, band) (mash_timescales_open{timescale="decision-rag"})')
    assert undocumented_labels('sum by (source) (mash_cases_opened_total)') == {"source"}
    assert undocumented_labels('mash_decisions_total{source_agency="police"}') == {"source_agency"}


def test_every_label_value_the_code_gives_is_documented() -> None:
    text = metrics_doc()
    for value in (*REJECTION_REASONS, *TIMESCALES, *SET_ASIDE_REASONS):
        assert f"`{value}`" in text, value
