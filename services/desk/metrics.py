"""The desk's metrics (see deploy/METRICS.md). Every labelled series exists
at zero from import, so ``increase()`` counts the first of each."""

from prometheus_client import Counter, Gauge

from plumbing.metrics import expect_every_topic, zero

LOGINS = Counter("mash_desk_logins", "Sign-in attempts at the desk, by result.", ["result"])
COMMANDS = Counter(
    "mash_desk_commands", "People's commands the desk sent, by command and the verdict the "
    "page showed (waiting: none within MASH_VERDICT_WAIT_SECONDS).", ["command", "verdict"])
CASE_VIEWS = Gauge("mash_desk_open_cases", "Open cases in the desk's case views.")

LOGIN_RESULTS = ("signed-in", "refused", "throttled")
COMMAND_KINDS = ("recommend", "decide", "note")
VERDICTS = ("accepted", "refused", "waiting")

expect_every_topic()
zero(LOGINS, ({"result": r} for r in LOGIN_RESULTS))
zero(COMMANDS, ({"command": c, "verdict": v} for c in COMMAND_KINDS for v in VERDICTS))
