"""MASH_REPLICAS: a service as several processes on the embedded stack."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mash.settings import MAX_REPLICAS, StackSettings, service_names
from mash.stack import Stack, metrics_port, processes, service_of, write_prometheus_targets


def test_replicas_come_from_the_environment(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASH_REPLICAS", " decision=2, research-police=3 ")
    settings = StackSettings(home=tmp_path)
    assert settings.replicas == {"decision": 2, "research-police": 3}
    assert (settings.replicas_of("decision"), settings.replicas_of("intake")) == (2, 1)
    monkeypatch.setenv("MASH_REPLICAS", "")
    assert StackSettings(home=tmp_path).replicas == {}
    assert StackSettings(home=tmp_path, replicas={"notify": 2}).replicas == {"notify": 2}


@pytest.mark.parametrize(("given", "says"), [
    ("decison=2", "no service is called 'decison'"),
    ("decision=0", "decision=0: a service runs 1 to 8 replicas"),
    (f"decision={MAX_REPLICAS + 1}", "a service runs 1 to 8 replicas"),
    ("desk=2", "the desk runs as one process"),
    ("decision:2", "'decision:2' is not <service>=<count>"),
    ("decision=two", "is not <service>=<count>"),
    ("decision=2,decision=3", "decision is named twice"),
])
def test_a_wrong_replicas_setting_says_what_is_wrong(tmp_path: Path, given: str,
                                                     says: str) -> None:
    with pytest.raises(ValidationError, match="MASH_REPLICAS") as error:
        StackSettings(home=tmp_path, replicas=given)
    assert says in str(error.value)


def test_without_replicas_every_service_is_one_process_under_its_own_name(
        tmp_path: Path) -> None:
    settings = StackSettings(home=tmp_path)
    assert [p.name for p in processes(settings)] == service_names()
    assert {p.replica for p in processes(settings)} == {1}
    assert metrics_port(9101, 1) == 9102
    assert metrics_port(9101, 3) == 9110


def test_replicas_have_their_own_names_and_metrics_ports(tmp_path: Path) -> None:
    settings = StackSettings(home=tmp_path, replicas="decision=2,research-police=2")
    names = [p.name for p in processes(settings)]
    assert names[:5] == ["intake", "decision", "decision#2", "notify", "research-police"]
    assert "research-police#2" in names
    assert len(names) == len(set(names)) == len(service_names()) + 2
    assert {service_of(n) for n in names} == set(service_names())
    stack = Stack(settings)
    ports = {p.name: stack._metrics_port(p.name, p.offset, p.replica) for p in processes(settings)}
    assert (ports["decision"], ports["decision#2"]) == (9102, 9202)
    assert (ports["research-police"], ports["research-police#2"]) == (9110, 9210)
    # As many replicas of everything as allowed: still no two processes share a port.
    most = StackSettings(home=tmp_path, replicas={n: MAX_REPLICAS for n in service_names()
                                                  if n != "desk"})
    every = [metrics_port(most.metrics_base_port, p.offset, p.replica)
             for p in processes(most) if p.service != "desk"]
    assert len(every) == len(set(every))
    assert not {most.desk_port, most.prometheus_port} & set(every)
    # Tests take any free port: every replica binds its own and reports it.
    free = StackSettings(home=tmp_path, replicas="decision=2", metrics_base_port=0)
    assert Stack(free)._metrics_port("decision#2", 1, 2) == 0


def test_each_replica_is_a_prometheus_target_of_its_service(tmp_path: Path) -> None:
    path = write_prometheus_targets(tmp_path, {"decision": 9102, "decision#2": 9202,
                                               "research-police#2": 9210})
    groups = {g["targets"][0]: g["labels"] for g in json.loads(path.read_text())}
    assert groups == {
        "127.0.0.1:9102": {"service": "decision"},
        "127.0.0.1:9202": {"service": "decision", "replica": "2"},
        "127.0.0.1:9210": {"service": "research", "agency": "police", "replica": "2"},
    }
