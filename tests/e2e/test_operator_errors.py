"""What the operator sees when the stack cannot start: a clear message and a
non-zero exit, never a hang."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.embedded import free_port

pytestmark = pytest.mark.e2e


def mash(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MASH_HOME": str(tmp_path / "mash"),
                "MASH_KAFKA_PORT": str(free_port()), "MASH_MONGO_PORT": str(free_port()), **env}
    return subprocess.run([sys.executable, "-m", "mash.cli", *args], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_a_port_in_use_is_named_with_the_setting_to_change(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        run = mash(tmp_path, "demo", "--contacts", "1", MASH_MONGO_PORT=port)
    assert run.returncode == 2
    assert f"port {port} for the database is already in use" in run.stdout
    assert "MASH_MONGO_PORT" in run.stdout


def test_a_service_that_dies_at_start_is_reported_with_its_last_lines(tmp_path: Path) -> None:
    # A research window of zero seconds is refused by intake's settings.
    run = mash(tmp_path, "demo", "--contacts", "1", MASH_RESEARCH_WINDOW_RED_SECONDS="0")
    assert run.returncode == 2
    assert "intake exited unexpectedly with code 1" in run.stdout
    assert "research_window_red_seconds" in run.stdout
    # Nothing left behind holding the ports.
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path / "mash")], capture_output=True)
    assert leftover.stdout == b""
