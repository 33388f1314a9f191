"""Run deploy/kafka's scripts against stand-ins for Kafka's CLI tools, and read
back the ACLs they would leave on the broker."""

import os
import subprocess
from pathlib import Path

KAFKA_DIR = Path(__file__).resolve().parents[3] / "deploy" / "kafka"
OPERATOR = "mash-operator"
TOOLS = ("kafka-acls.sh", "kafka-configs.sh", "kafka-topics.sh")

Grant = tuple[str, str, str]  # (operation, resource kind, name + "*" if prefixed)


def shell_variables(*names: str) -> dict[str, str]:
    """Variables as deploy/kafka/principals.sh sets them (MASH_AGENCIES unset)."""
    env = {k: v for k, v in os.environ.items() if k != "MASH_AGENCIES"}
    script = ". ./principals.sh; " + "; ".join(f'printf "%s\\n" "${name}"' for name in names)
    out = subprocess.run(["sh", "-c", script], cwd=KAFKA_DIR, env=env, capture_output=True,
                         text=True, timeout=30, check=True).stdout.splitlines()
    return dict(zip(names, out, strict=True))


def run_script(tmp_path: Path, script: str, principals: list[str]) -> list[list[str]]:
    """Run a deploy/kafka script with every principal's password set, returning
    the argument list of every call to Kafka's tools (the tool's name first)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    calls.write_text("")
    for tool in TOOLS:
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "{tool}" "$@" "--end--" >> "{calls}"\n')
        stub.chmod(0o755)
    env = {**os.environ, "KAFKA_BIN": str(bin_dir),
           "KAFKA_SETUP_MARKER": str(tmp_path / "marker")}
    env |= {"MASH_KAFKA_PASSWORD_" + n.upper().replace("-", "_"): f"pw-{n}" for n in principals}
    result = subprocess.run(["sh", str(KAFKA_DIR / script)], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out: list[list[str]] = []
    current: list[str] = []
    for line in calls.read_text().splitlines():
        if line == "--end--":
            out.append(current)
            current = []
        else:
            current.append(line)
    return out


def value(call: list[str], flag: str) -> str | None:
    return call[call.index(flag) + 1] if flag in call else None


def values(call: list[str], flag: str) -> list[str]:
    return [call[i + 1] for i, arg in enumerate(call) if arg == flag]


def grants(calls: list[list[str]]) -> dict[str, set[Grant]]:
    """principal -> {(operation, resource kind, name + '*' if prefixed)}, as the
    broker holds them after every call in order (--add, then --remove)."""
    found: dict[str, set[Grant]] = {}
    for call in calls:
        if call[0] != "kafka-acls.sh":
            continue
        assert ("--add" in call) != ("--remove" in call), call
        principals = values(call, "--allow-principal")
        assert principals, call
        assert not values(call, "--deny-principal"), "deny ACLs are not read here"
        pattern = value(call, "--resource-pattern-type") or "literal"
        assert pattern in ("literal", "prefixed"), call
        suffix = "*" if pattern == "prefixed" else ""
        resources = [("topic", name + suffix) for name in values(call, "--topic")]
        resources += [("group", name + suffix) for name in values(call, "--group")]
        resources += [("cluster", "")] if "--cluster" in call else []
        assert resources, call
        for principal in principals:
            held = found.setdefault(principal.removeprefix("User:"), set())
            for op in values(call, "--operation"):
                for kind, name in resources:
                    if "--add" in call:
                        held.add((op, kind, name))
                    else:
                        held.discard((op, kind, name))
    return found


def can(acl: dict[str, set[Grant]], principal: str, operation: str, topic: str) -> bool:
    """Whether the grants let a principal do an operation on a topic: a literal
    grant on it, a prefixed one on any start of its name, or the wildcard, for
    the operation itself or All."""
    for op, kind, name in acl.get(principal, set()):
        if kind != "topic" or op not in (operation, "All"):
            continue
        if name in (topic, "*") or (name.endswith("*") and topic.startswith(name[:-1])):
            return True
    return False
