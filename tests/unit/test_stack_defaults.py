"""Auto-authorise is a demo convenience: off unless asked for."""

from pathlib import Path

import pytest

from mash.settings import StackSettings
from mash.stack import Stack


def test_the_embedded_stack_leaves_decisions_to_managers_unless_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASH_AUTO_AUTHORISE", raising=False)
    settings = StackSettings(home=tmp_path)
    assert Stack(settings).service_env()["MASH_AUTO_AUTHORISE"] == "false"
    assert Stack(settings, auto_authorise=True).service_env()["MASH_AUTO_AUTHORISE"] == "true"
