"""The desk's two figures, each on an embedded stack of its own, in one run.

    python -m bench.desk [--cases 5000] [--requests 20] [--decisions 5] [--json PATH]

(a) tray:     a stack running just the desk is fed ``--cases`` CaseOpened
              events (research deadlines a week ahead, so every case stays
              open); once its view holds them all (mash_desk.case_views,
              read as the operator), ``--requests`` authenticated GET /tray
              over HTTP, after one untimed warm-up: min / p50 / p95 / max in
              ms, and the page's size. Target: under 300 ms.
(b) decision: a full stack with auto-authorise off and ``--decisions``
              contacts, each waited for until the desk shows it proposed; a
              manager signed in through headless Chromium authorises each
              case in turn, one at a time, on an otherwise idle stack. Timed
              from the click on "Send decision" to the outcome event on the
              outcome topics, read by a consumer positioned at their end
              before the first click. Target: under 1 s.

Prints progress, then a table; writes JSON to bench/results/desk-<time>.json.
"""

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from contracts import topics
from contracts.agencies import agencies
from contracts.casework import Role
from contracts.contact import Contact, Rag
from contracts.envelope import CONTENT_TYPE, utc_now
from contracts.events import CaseOpened, CaseOpenedData
from mash import users
from mash.stack import Stack
from tests.embedded import Wire, stack_settings
from tests.factories import contact_about_a_new_family, contact_dict

ROOT = Path(__file__).resolve().parents[1]
TRAY_TARGET_MS = 300.0
DECISION_TARGET_S = 1.0
MANAGER = "bench.manager"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Exactly these, and a fresh profile: without them Chromium reaches for a
# network it does not have here, and its connections fail many at a time.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")
# RED, AMBER and GREEN in about the shares a day brings.
MIX = (Rag.RED,) + (Rag.AMBER,) * 3 + (Rag.GREEN,) * 6

_began = time.monotonic()


def say(line: str) -> None:
    print(f"[{time.monotonic() - _began:7.1f}s] {line}", flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def desk_url(stack: Stack) -> str:
    # Served as localhost: its cookies are Secure, which browsers keep for localhost.
    return f"http://localhost:{stack.metrics_ports['desk']}"


def account(home: Path) -> str:
    password = secrets.token_urlsafe(18)
    users.add(users.users_file(home), MANAGER, Role.MANAGER, password)
    return password


# --- (a) the tray with thousands of open cases -----------------------------------

def opened_events(count: int) -> list[CaseOpened]:
    """Cases as intake opens them: one contact each, received over the last
    three hours, researched by every agency, due a week from now."""
    now = utc_now()
    template = Contact.model_validate(contact_dict())
    events = []
    for n in range(count):
        rag = MIX[n % len(MIX)]
        case_id, contact_id = f"CASE-B{n:07d}", f"bench-desk-{n:05d}"
        contact = template.model_copy(update={
            "contact_id": contact_id, "referrer_reference": f"POL-B{n:05d}",
            "received_at": now - timedelta(seconds=(n * 7919) % 10_800), "referrer_rag": rag})
        events.append(CaseOpened.new(
            CaseOpenedData(case_id=case_id, contact=contact, expected_agencies=list(agencies()),
                           triage_rag=rag, opened_at=now,
                           research_deadline=now + timedelta(days=7)),
            source="/mash/intake", subject=case_id, correlation_id=contact_id))
    return events


async def views(stack: Stack) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.settings.operator_mongo_uri)
    try:
        return await client["mash_desk"].case_views.count_documents({})
    finally:
        await client.close()


async def signed_in(base: str, name: str, password: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A client and the header carrying its session. The desk's cookies are
    Secure and httpx sends none over http, so the header is made by hand, as
    a browser on localhost sends it."""
    client = httpx.AsyncClient(base_url=base, timeout=60)
    page = await client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if found is None:
        raise RuntimeError(f"no login form at {base}/login")
    login = page.cookies["mash_desk_login"]
    answer = await client.post("/login", data={"name": name, "password": password,
                                                "csrf": found.group(1)},
                               headers={"cookie": f"mash_desk_login={login}"})
    if answer.status_code != 303:
        raise RuntimeError(f"login refused ({answer.status_code})")
    return client, {"cookie": f"mash_desk={answer.cookies['mash_desk']}"}


async def tray(cases: int, requests: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="mash-bench-desk-tray-"))
    stack = Stack(stack_settings(home), quiet_services=True)
    try:
        say("tray: starting broker, database and the desk alone")
        await stack.start_servers()
        await stack.start_services(only=["desk"])
        password = account(home)
        events = opened_events(cases)
        producer = AIOKafkaProducer(bootstrap_servers=stack.settings.bootstrap, acks="all",
                                    linger_ms=5)
        await producer.start()
        began = time.monotonic()
        try:
            for event in events:
                await producer.send(topics.CASES_OPENED, event.to_bytes(),
                                    key=event.data.case_id.encode(),
                                    headers=[("content-type", CONTENT_TYPE.encode())])
            await producer.flush()
        finally:
            await producer.stop()
        published = time.monotonic() - began
        say(f"tray: {cases:,} CaseOpened published in {published:.1f} s; waiting for the views")
        seen, last, told = 0, time.monotonic(), time.monotonic()
        while seen < cases:
            await asyncio.sleep(1.0)
            now_seen = await views(stack)
            if now_seen != seen:
                seen, last = now_seen, time.monotonic()
            if time.monotonic() - told >= 10:
                say(f"tray: {seen:,} views")
                told = time.monotonic()
            if time.monotonic() - last > 120:
                raise RuntimeError(f"the desk stopped at {seen:,} views of {cases:,}")
            if stack.exited.is_set():
                raise RuntimeError(stack.failure or "a child exited")
        folded = time.monotonic() - began
        say(f"tray: {cases:,} views in {folded:.1f} s ({cases / folded:.0f} events/s)")

        client, cookie = await signed_in(desk_url(stack), MANAGER, password)
        try:
            warm = await client.get("/tray", headers=cookie)
            caption = f"{cases} open cases, most urgent first"
            if warm.status_code != 200 or caption not in warm.text:
                raise RuntimeError(f"the tray did not show {cases} open cases "
                                   f"({warm.status_code})")
            timings, sizes = [], []
            for _ in range(requests):
                start = time.perf_counter()
                page = await client.get("/tray", headers=cookie)
                timings.append((time.perf_counter() - start) * 1000)
                if page.status_code != 200:
                    raise RuntimeError(f"GET /tray answered {page.status_code}")
                sizes.append(len(page.content))
        finally:
            await client.aclose()
        rows = len(re.findall(r"<tr [^>]*data-case=", page.text))
        ms = {"min": min(timings), "p50": percentile(timings, 50),
              "p95": percentile(timings, 95), "max": max(timings)}
        result: dict[str, Any] = {
            "cases": cases, "rows_rendered": rows, "requests": requests, "ms": ms,
            "each_ms": [round(t, 1) for t in timings], "bytes": max(sizes),
            "bytes_min": min(sizes), "target_ms": TRAY_TARGET_MS,
            "met": ms["p95"] < TRAY_TARGET_MS, "seconds_to_publish": round(published, 1),
            "seconds_to_fold": round(folded, 1)}
        say(f"tray: p50 {ms['p50']:.0f} ms, p95 {ms['p95']:.0f} ms, "
            f"{result['bytes']:,} bytes, {rows:,} rows")
        return result
    finally:
        say("tray: stopping its stack")
        await stack.stop()
        shutil.rmtree(home, ignore_errors=True)


# --- (b) a decision in the browser, to its outcome ---------------------------------

def browser() -> tuple[WebDriver, str]:
    profile = tempfile.mkdtemp(prefix="mash-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options), profile


def wait(driver: WebDriver, timeout: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout, poll_frequency=0.02)


def sign_in(driver: WebDriver, base: str, password: str) -> None:
    driver.get(base + "/login")
    driver.find_element(By.ID, "name").send_keys(MANAGER)
    driver.find_element(By.ID, "password").send_keys(password)
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait(driver).until(expected_conditions.staleness_of(old))
    if not driver.find_elements(By.ID, "me"):
        raise RuntimeError("the manager could not sign in")


def open_case(driver: WebDriver, base: str, case_id: str) -> None:
    driver.get(f"{base}/cases/{case_id}")
    if not driver.find_elements(By.ID, "decide"):
        raise RuntimeError(f"no decide form on {case_id}")
    driver.find_element(By.ID, "dec-authorise").click()


def send_decision(driver: WebDriver) -> tuple[float, float, str]:
    """Click "Send decision"; (when it was clicked, when the page showed the
    verdict, the verdict's words)."""
    button = driver.find_element(By.CSS_SELECTOR, "#decide button[type=submit]")
    old = driver.find_element(By.TAG_NAME, "html")
    clicked = time.monotonic()
    button.click()
    wait(driver).until(expected_conditions.staleness_of(old))

    def verdict(d: WebDriver) -> str | Literal[False]:
        found = d.find_elements(By.CSS_SELECTOR, "#verdict.accepted, #verdict.refused")
        return str(found[0].text) if found else False

    said: str = wait(driver).until(verdict)
    return clicked, time.monotonic(), said


async def follow_outcomes(bootstrap: str, seen: dict[str, float], ready: asyncio.Event,
                          stop: asyncio.Event) -> None:
    """Every outcome from now on: its case and when it was read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        await consumer.topics()
        parts = [TopicPartition(t, p) for t in topics.OUTCOME_TOPICS
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)  # resolved now: the end, before any click
        ready.set()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=20)
            at = time.monotonic()
            for records in batch.values():
                for record in records:
                    case_id = json.loads(record.value).get("data", {}).get("case_id")
                    if case_id:
                        seen.setdefault(case_id, at)
    finally:
        await consumer.stop()


async def decisions(count: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="mash-bench-desk-decide-"))
    stack = Stack(stack_settings(home), quiet_services=True, auto_authorise=False)
    driver: WebDriver | None = None
    profile: str | None = None
    stop, ready = asyncio.Event(), asyncio.Event()
    seen: dict[str, float] = {}
    follower: asyncio.Task[None] | None = None
    wire: Wire | None = None
    try:
        say("decision: starting the full stack, auto-authorise off")
        await stack.start_servers()
        await stack.start_services(env={"MASH_AUTO_AUTHORISE": "false"})
        await stack.reconcile(wait_seconds=stack.settings.ready_timeout_seconds)
        password = account(home)
        base = desk_url(stack)
        wire = Wire(stack.settings)
        run = secrets.token_hex(3)
        contacts = [f"bench-decide-{run}-{n}" for n in range(count)]
        for cid in contacts:
            await wire.send(topics.CONTACTS_SUBMITTED, contact_about_a_new_family(cid), key=cid)
        cases: dict[str, str] = {}
        deadline = time.monotonic() + 120
        views = wire.mongo["mash_desk"].case_views
        while len(cases) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(cases)} of {count} cases proposed in 120 s")
            async for doc in views.find({"stage": "awaiting-decision",
                                         "contacts.contact.contact_id": {"$in": contacts}},
                                        {"contacts.contact.contact_id": 1}):
                cases[doc["contacts"][0]["contact"]["contact_id"]] = doc["_id"]
            await asyncio.sleep(0.2)
        say(f"decision: {count} cases proposed and on the desk")
        follower = asyncio.create_task(follow_outcomes(stack.settings.bootstrap, seen, ready, stop))
        await asyncio.wait_for(ready.wait(), timeout=30)
        chrome, profile = await asyncio.to_thread(browser)
        driver = chrome
        await asyncio.to_thread(sign_in, chrome, base, password)
        await asyncio.sleep(2.0)  # the sign-in's audit and session writes settle
        each: list[dict[str, Any]] = []
        for cid in contacts:
            case_id = cases[cid]
            await asyncio.to_thread(open_case, chrome, base, case_id)
            clicked, shown, said = await asyncio.to_thread(send_decision, chrome)
            if not said.startswith("✔ Accepted"):
                raise RuntimeError(f"{case_id}: {said}")
            limit = time.monotonic() + 30
            while case_id not in seen:
                if time.monotonic() > limit:
                    raise RuntimeError(f"no outcome for {case_id} within 30 s of the click")
                await asyncio.sleep(0.01)
            each.append({"case_id": case_id, "to_outcome_s": round(seen[case_id] - clicked, 3),
                         "to_verdict_on_page_s": round(shown - clicked, 3)})
            say(f"decision: {case_id} outcome {seen[case_id] - clicked:.3f} s after the click, "
                f"verdict on the page after {shown - clicked:.3f} s")
            await asyncio.sleep(2.0)  # idle again: notify and the desk finish their part
        to_outcome = [e["to_outcome_s"] for e in each]
        median = statistics.median(to_outcome)
        return {"decisions": each, "median_s": round(median, 3), "max_s": max(to_outcome),
                "target_s": DECISION_TARGET_S, "met": median < DECISION_TARGET_S,
                "agencies": list(agencies())}
    finally:
        stop.set()
        if follower is not None:
            await follower
        if driver is not None:
            await asyncio.to_thread(driver.quit)
        if profile is not None:
            shutil.rmtree(profile, ignore_errors=True)
        if wire is not None:
            await wire.close()
        say("decision: stopping its stack")
        await stack.stop()
        shutil.rmtree(home, ignore_errors=True)


def table(results: dict[str, Any]) -> list[str]:
    lines = []
    t = results.get("tray")
    if t:
        ms = t["ms"]
        lines += [f"{'figure':<44} {'min':>8} {'p50':>8} {'p95':>8} {'max':>8}  target",
                  f"{'GET /tray, ' + format(t['cases'], ',') + ' open cases (ms)':<44} "
                  f"{ms['min']:>8.0f} {ms['p50']:>8.0f} {ms['p95']:>8.0f} {ms['max']:>8.0f}  "
                  f"< {t['target_ms']:.0f} ms p95: {'met' if t['met'] else 'NOT met'}",
                  f"  {t['requests']} requests, {t['bytes']:,} bytes, {t['rows_rendered']:,} rows; "
                  f"views folded in {t['seconds_to_fold']} s"]
    d = results.get("decision")
    if d:
        lines += ["", f"{'decision in the browser → outcome topic':<44} {'outcome':>8} {'page':>8}"]
        for e in d["decisions"]:
            lines.append(f"  {e['case_id']:<42} {e['to_outcome_s']:>7.3f}s "
                         f"{e['to_verdict_on_page_s']:>7.3f}s")
        lines.append(f"  {'median':<42} {d['median_s']:>7.3f}s"
                     f"{'':>10}  < {d['target_s']:g} s: {'met' if d['met'] else 'NOT met'}")
    if results.get("aborted"):
        lines.append(f"ABORTED: {results['aborted']}")
    return lines


async def measure(cases: int, requests: int, count: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    try:
        results["tray"] = await tray(cases, requests)
        results["decision"] = await decisions(count)
    except Exception as exc:  # keep what was measured before it
        results["aborted"] = f"{type(exc).__name__}: {exc}"
        say(f"ABORTED: {results['aborted']}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None,
                        help="default: bench/results/desk-<time>.json")
    args = parser.parse_args(argv)
    if min(args.cases, args.requests, args.decisions) < 1:
        parser.error("--cases, --requests and --decisions must be at least 1")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.json or ROOT / "bench" / "results" / f"desk-{stamp}.json"
    started, load = datetime.now(UTC), os.getloadavg()[0]
    say(f"bench.desk: {args.cases:,} cases, {args.requests} requests, {args.decisions} "
        f"decisions; {os.cpu_count()} CPUs, load average {load:.2f}")
    results = asyncio.run(measure(args.cases, args.requests, args.decisions))
    report = {"run": {"started": started.isoformat(timespec="seconds"),
                      "seconds": round(time.monotonic() - _began, 1), "argv": sys.argv[1:],
                      "cpus": os.cpu_count(), "load_average_at_start": load,
                      "load_average_at_end": os.getloadavg()[0],
                      "python": platform.python_version()},
              **results}
    print()
    for line in table(results):
        print(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nJSON: {path}")
    if results.get("aborted"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
