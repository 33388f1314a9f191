"""`mash`: the operator's commands."""

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from mash.audit import audit_app
from mash.case import case_app
from mash.demo import report, run_demo, run_live
from mash.dlq import dlq_app
from mash.keys import keys_app
from mash.quarantine import quarantine_app
from mash.reconcile import reconcile
from mash.report.cli import report_app
from mash.rules import rules_app
from mash.settings import StackSettings
from mash.stack import Stack, StackError, port_free
from mash.topics import create_topics
from mash.users import ensure_demo, users_app

app = typer.Typer(help="Multi-Agency Safeguarding Hub: run the stack, the demo, the topics.",
                  no_args_is_help=True, add_completion=False)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(case_app, name="case")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(dlq_app, name="dlq")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(report_app, name="report")
app.add_typer(rules_app, name="rules")
app.add_typer(users_app, name="users")
app.command()(reconcile)


def _echo(line: str) -> None:
    print(line, flush=True)


async def _until_stopped(stack: Stack,
                         extra: Callable[[], Coroutine[Any, Any, None]] | None) -> int:
    """Run until Ctrl-C (0) or a child dies (1)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(stop.wait()), asyncio.create_task(stack.exited.wait())]
    feeder = asyncio.create_task(extra()) if extra else None
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    if feeder:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feeder
    if stack.exited.is_set() and not stop.is_set():
        _echo(f"mash up: {stack.failure}")
        return 1
    _echo("mash up: stopping")
    return 0


async def _up(demo: bool, pace: float, prometheus: bool) -> int:
    try:
        settings = StackSettings()
    except ValidationError as error:  # e.g. MASH_REPLICAS naming no service
        for problem in error.errors():
            _echo(f"mash up: {problem['msg'].removeprefix('Value error, ')}")
        return 2
    stack = Stack(settings, echo=_echo, quiet_services=demo, auto_authorise=demo)
    people = ensure_demo(settings.home) if demo else []
    started = time.monotonic()
    try:
        await stack.start()
    except StackError as error:
        _echo(f"mash up: {error}")
        await stack.stop()
        return 2
    except BaseException:
        await stack.stop()
        raise
    _echo(f"mash up: ready in {time.monotonic() - started:.1f}s — broker {settings.bootstrap}, "
          f"database 127.0.0.1:{settings.mongo_port}, data in {settings.home}. Ctrl-C stops.")
    _echo("mash up: metrics and health: " + ", ".join(
        f"{name} :{port}" for name, port in stack.metrics_ports.items())
        + " (GET /metrics, /health)")
    if "desk" in stack.metrics_ports:
        _echo(f"mash up: the MASH desk at http://localhost:{stack.metrics_ports['desk']}/"
              + ("" if people else " (accounts: `mash users add NAME --role ...`)"))
    for name, role, password in people:
        _echo(f"mash up:   sign in as {name:<14} password {password}  ({role})")
    if people:
        _echo("mash up: RED and AMBER decisions wait for a manager's confirmation: sign in "
              "as manager.demo and open one from the tray")
    if prometheus:
        try:
            url = await stack.start_prometheus()
            _echo(f"mash up: Prometheus at {url} (alerts: {url}/alerts, rules: {url}/rules)")
        except StackError as error:
            _echo(f"mash up: no Prometheus: {error}")
    feed = None
    if demo:
        _echo("mash up: feeding demo contacts; each outcome is printed as it happens")

        async def feed_contacts() -> None:
            await run_live(settings.bootstrap, pace, echo=_echo)

        feed = feed_contacts
    try:
        code = await _until_stopped(stack, feed)
    finally:
        await stack.stop()
    return code


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Feed demo contacts and print each outcome.")] = False,
    pace: Annotated[float, typer.Option(help="Seconds between demo contacts.")] = 1.0,
    prometheus: Annotated[bool, typer.Option(
        help="Also start Prometheus with the project's rules and alerts, if installed.")] = True,
) -> None:
    """Start the broker, the database and every service; Ctrl-C stops them all."""
    raise typer.Exit(asyncio.run(_up(demo, pace, prometheus)))


async def _demo(contacts: int, timeout: float, seed: int, verbose: bool = False) -> int:
    settings = StackSettings()
    stack: Stack | None = None
    if port_free(settings.kafka_port):
        _echo(f"mash demo: no stack on {settings.bootstrap}; starting one")
        stack = Stack(settings, echo=_echo, quiet_services=not verbose, auto_authorise=True)
        try:
            started = time.monotonic()
            await stack.start()
            _echo(f"mash demo: stack ready in {time.monotonic() - started:.1f}s")
        except StackError as error:
            _echo(f"mash demo: {error}")
            await stack.stop()
            return 2
    try:
        began = time.monotonic()
        account = await run_demo(settings.bootstrap, contacts, timeout, seed, echo=_echo)
        wall = time.monotonic() - began
    finally:
        if stack is not None:
            await stack.stop()
    lines = report(account)
    lines.insert(-1, f"demo wall time: {wall:.1f}s")
    for line in lines:
        _echo(line)
    return 1 if account.lost or not account.submitted else 0


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(min=1, help="How many contacts to submit.")] = 50,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every outcome.")] = 180.0,
    seed: Annotated[int, typer.Option(help="Which day of contacts.")] = 7,
    verbose: Annotated[bool, typer.Option(help="Show every service's log lines.")] = False,
) -> None:
    """Submit a realistic day of contacts and account for every one.

    Uses the running stack if there is one, otherwise starts and stops its own.
    Exits non-zero if any contact has neither an outcome nor a rejection.
    """
    raise typer.Exit(asyncio.run(_demo(contacts, timeout, seed, verbose)))


@topics_app.command("create")
def topics_create(
    partitions: Annotated[int, typer.Option(help="Partitions per topic.")] = 3,
    replication_factor: Annotated[int, typer.Option(help="1 for one broker; 3 in a cluster.")] = 1,
) -> None:
    """Create every MASH topic that does not exist yet (MASH_KAFKA_BOOTSTRAP_SERVERS)."""
    from plumbing.settings import ServiceSettings

    service = ServiceSettings()
    bootstrap = service.kafka_bootstrap_servers
    created = asyncio.run(create_topics(bootstrap, partitions, replication_factor,
                                        **service.kafka_client_options()))
    _echo(f"{len(created)} topic(s) created on {bootstrap}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
