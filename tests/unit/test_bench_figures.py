"""bench.pipeline's arithmetic: what it reads from /metrics, py-spy and psutil,
and the per-contact figures and bounds it makes of them."""

import pytest

from bench.pipeline import (
    BENCH_PROCESS,
    batch_sizes,
    by_label,
    conflicts_per_contact,
    cpu_bound,
    cpu_per_contact,
    mean_batch,
    normalised_throughput,
    per_contact,
    scraped,
    stack_only,
    top_own,
    top_per_contact,
)

METRICS = """\
# HELP mash_handler_retries_total Messages handled again.
# TYPE mash_handler_retries_total counter
mash_handler_retries_total{reason="conflict",topic="a"} 3.0
mash_handler_retries_total{reason="conflict",topic="b"} 2.0
mash_handler_retries_total{reason="outage",topic="a"} 1.0
# HELP mash_db_transactions_total Transactions.
# TYPE mash_db_transactions_total counter
mash_db_transactions_total{outcome="committed"} 40.0
mash_db_transactions_total{outcome="aborted"} 2.0
# HELP mash_db_commands_total Commands.
# TYPE mash_db_commands_total counter
mash_db_commands_total{command="insert"} 90.0
mash_db_commands_total{command="find"} 120.0
# HELP mash_consumer_batch_records Records per batch.
# TYPE mash_consumer_batch_records histogram
mash_consumer_batch_records_bucket{le="1.0",subscriber="intake"} 4.0
mash_consumer_batch_records_bucket{le="+Inf",subscriber="intake"} 10.0
mash_consumer_batch_records_sum{subscriber="intake"} 50.0
mash_consumer_batch_records_count{subscriber="intake"} 10.0
# HELP mash_outbox_backlog Events not yet published.
# TYPE mash_outbox_backlog gauge
mash_outbox_backlog 7.0
# HELP faststream_received_messages_total Received.
# TYPE faststream_received_messages_total counter
faststream_received_messages_total{handler="x"} 5.0
faststream_received_messages_total{handler="y"} 6.0
"""


def test_a_metrics_page_gives_counters_and_the_split_series_by_their_label() -> None:
    got = scraped(METRICS)
    assert got == {
        "mash_handler_retries_total:conflict": 5.0,
        "mash_handler_retries_total:outage": 1.0,
        "mash_db_transactions_total:committed": 40.0,
        "mash_db_transactions_total:aborted": 2.0,
        "mash_db_commands_total:insert": 90.0,
        "mash_db_commands_total:find": 120.0,
        "mash_consumer_batch_records_sum:intake": 50.0,
        "mash_consumer_batch_records_count:intake": 10.0,
        "faststream_received_messages_total": 11.0,
    }


def test_figures_a_service_does_not_expose_are_none_not_zero() -> None:
    counters = {"intake": {"faststream_received_messages_total": 3.0}}
    assert by_label(counters, "mash_db_transactions_total") is None
    assert per_contact(None, 10) is None
    assert top_per_contact(None, 10) is None
    assert conflicts_per_contact(counters, 10) is None
    assert batch_sizes(counters) is None
    assert mean_batch(None) is None


def test_per_contact_figures_sum_over_services() -> None:
    counters = {"intake": scraped(METRICS), "decision": scraped(METRICS),
                "notify": {"mash_db_commands_total:update": 10.0}}
    commands = by_label(counters, "mash_db_commands_total")
    assert per_contact(commands, 10) == {"find": 24.0, "insert": 18.0, "update": 1.0}
    assert list(per_contact(commands, 10) or {}) == ["find", "insert", "update"]  # most first
    assert top_per_contact(commands, 10, top=1) == {"decision": {"find": 12.0},
                                                    "intake": {"find": 12.0},
                                                    "notify": {"update": 1.0}}
    assert per_contact(by_label(counters, "mash_db_transactions_total"), 20) == {
        "committed": 4.0, "aborted": 0.2}
    assert conflicts_per_contact(counters, 20) == 0.5


def test_batch_sizes_by_subscriber_and_their_mean() -> None:
    counters = {
        "intake": {"mash_consumer_batch_records_sum:intake": 50.0,
                   "mash_consumer_batch_records_count:intake": 10.0,
                   "mash_consumer_batch_records_sum:idle": 0.0,
                   "mash_consumer_batch_records_count:idle": 0.0},
        "decision": {"mash_consumer_batch_records_sum:findings": 30.0,
                     "mash_consumer_batch_records_count:findings": 30.0},
    }
    batches = batch_sizes(counters)
    assert batches == {
        "decision": {"findings": {"batches": 30, "records": 30, "mean_records": 1.0}},
        "intake": {"intake": {"batches": 10, "records": 50, "mean_records": 5.0}},
    }
    assert mean_batch(batches) == 2.0  # 80 records in 40 batches
    assert mean_batch({}) is None


def test_cpu_per_contact_takes_off_the_idle_share_and_leaves_the_bench_out() -> None:
    cpu = {"database": 6.0, "intake": 2.0, BENCH_PROCESS: 4.0}
    idle = {"database": 0.05, "intake": 0.01, BENCH_PROCESS: 0.02}
    rows, stack = cpu_per_contact(cpu, idle, seconds=100.0, contacts=1000)
    assert rows["database"] == {"total": 6.0, "idle": 5.0, "net": 1.0}
    assert rows["intake"] == {"total": 2.0, "idle": 1.0, "net": 1.0}
    assert rows[BENCH_PROCESS] == {"total": 4.0, "idle": 2.0, "net": 2.0}
    assert stack == {"total": 8.0, "idle": 6.0, "net": 2.0}
    assert stack_only(idle) == pytest.approx(0.06)


def test_the_cpu_budget_bound_is_the_cores_left_over_the_net_cost() -> None:
    assert cpu_bound(2, 0.1, 19.0) == pytest.approx(100.0)  # 1.9 cores / 0.019 s
    assert cpu_bound(2, 0.1, 0.0) is None
    assert cpu_bound(1, 1.5, 10.0) is None


def test_normalised_throughput_is_per_thousand_single_client_inserts() -> None:
    assert normalised_throughput(30.0, 10_000.0) == pytest.approx(3.0)
    assert normalised_throughput(None, 10_000.0) is None
    assert normalised_throughput(30.0, None) is None


def test_top_own_counts_the_frame_at_the_top_of_each_stack() -> None:
    folded = "\n".join([
        "<module> (a.py:1);run (a.py:5);decode (json/decoder.py:332) 30",
        "<module> (a.py:1);run (a.py:5) 5",
        "<module> (a.py:1);other (b.py:9);decode (json/decoder.py:332) 10",
        "<module> (a.py:1);insert (pymongo/x.py:70) 12",
        "",
        "not a line",
    ])
    total, top = top_own(folded, top=2)
    assert total == 57
    assert top == [("decode (json/decoder.py:332)", 40), ("insert (pymongo/x.py:70)", 12)]
