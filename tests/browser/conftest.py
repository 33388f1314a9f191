"""The desk in a real browser: one stack of the module's own (auto-authorise
off, so the rules only propose and people decide), its people, a few cases
awaiting a decision, and one headless Chromium driven through Selenium.

Selenium blocks, and the stack's children write to pipes this process must
keep reading, so every browser step runs in a worker thread
(``asyncio.to_thread``) while the event loop goes on following them."""

import asyncio
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from contracts import topics
from contracts.casework import CaseChanged, HistoryKind, Role
from contracts.contact import Contact, Rag
from contracts.envelope import utc_now
from contracts.events import CaseOpened, ContactSubmitted
from mash import users
from mash.stack import Stack
from tests.embedded import Wire
from tests.factories import contact_about_a_new_family
from tests.stacks import own_stack, wire_to

ENV = {"MASH_AGENCIES": "police,health", "MASH_AUTO_AUTHORISE": "false"}
SERVICES = ["intake", "decision", "notify", "research-police", "research-health", "desk"]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Exactly these (and a fresh profile): without them Chromium reaches for the
# network it does not have, and its connections fail many at a time.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")
# The desk's decision windows (its defaults, as the decision service's).
WINDOWS = {Rag.RED: timedelta(hours=4), Rag.AMBER: timedelta(hours=24),
           Rag.GREEN: timedelta(hours=72)}
RAG_ORDER = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2}
WAIT = 30.0  # the most any page may take (the desk waits 8 s for a verdict itself)

T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    name: str
    role: Role
    password: str
    agency: str | None = None


def _people() -> dict[str, Person]:
    def password() -> str:
        return secrets.token_urlsafe(18)
    return {"sw": Person("sw.ann", Role.SOCIAL_WORKER, password()),
            "manager": Person("mgr.bea", Role.MANAGER, password()),
            "manager2": Person("mgr.cal", Role.MANAGER, password()),
            "police": Person("police.dee", Role.RESEARCHER, password(), agency="police"),
            "operator": Person("ops.eve", Role.OPERATOR, password())}


@dataclass(frozen=True)
class Seed:
    """A contact the module sends: the referrer's RAG (the floor the rules
    propose at, for these concerns) and how long ago it was received, so two
    of a RAG have different times left."""

    key: str
    rag: Rag
    age: timedelta
    concerns: tuple[str, ...]
    urgency: str = "routine"


# Within each RAG the older contact, with less time left, is sent second:
# a tray in arrival order would put them the wrong way round.
SEEDS = (Seed("red-1", Rag.RED, timedelta(0), ("3B",), "immediate"),
         Seed("red-2", Rag.RED, timedelta(minutes=40), ("3B",), "immediate"),
         Seed("amber-1", Rag.AMBER, timedelta(0), ("3B",)),
         Seed("amber-2", Rag.AMBER, timedelta(hours=3), ("3B",)),
         Seed("green-1", Rag.GREEN, timedelta(0), ("21",)),
         Seed("green-2", Rag.GREEN, timedelta(hours=10), ("1A",)))


@dataclass(frozen=True)
class Case:
    seed: Seed
    contact_id: str
    case_id: str
    received_at: datetime

    @property
    def tray_key(self) -> tuple[int, datetime]:
        """Where the tray should put it: RAG, then the decision's due time."""
        return RAG_ORDER[self.seed.rag], self.received_at + WINDOWS[self.seed.rag]


def submitted(seed: Seed, cid: str, received_at: datetime) -> ContactSubmitted:
    """A police contact about a family of its own, with the seed's rating,
    concerns and time of receipt."""
    data = contact_about_a_new_family(cid).data.model_dump(mode="json")
    data.update(referrer_rag=seed.rag.value, concerns=list(seed.concerns), urgency=seed.urgency,
                received_at=received_at.isoformat())
    return ContactSubmitted.new(Contact.model_validate(data), source="/agency/police",
                                subject=cid, correlation_id=cid)


# --- the stack and its people -------------------------------------------------------

@pytest.fixture(scope="module")
async def desk_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with own_stack(tmp_path_factory.mktemp("desk"), SERVICES, ENV) as running:
        yield running


@pytest.fixture(scope="module")
async def wire(desk_stack: Stack) -> AsyncIterator[Wire]:
    async with wire_to(desk_stack) as client:
        yield client


@pytest.fixture(scope="module")
def people(desk_stack: Stack) -> dict[str, Person]:
    """The desk's accounts, as `mash users add` makes them (the desk reads
    the file at each login)."""
    found = _people()
    path = users.users_file(desk_stack.settings.home)
    for p in found.values():
        users.add(path, p.name, p.role, p.password, agency=p.agency)
    return found


@pytest.fixture(scope="module")
def base_url(desk_stack: Stack) -> str:
    # Served as localhost: the cookies are Secure, which browsers keep for it.
    return f"http://localhost:{desk_stack.metrics_ports['desk']}"


# --- cases awaiting a decision --------------------------------------------------------

async def sign_in_over_http(client: httpx.AsyncClient, person: Person) -> dict[str, str]:
    """The header that carries this person's session: the cookies are Secure
    and httpx sends none over http, so it is made by hand, as a browser on
    localhost sends it."""
    page = await client.get("/login")
    token = page.cookies["mash_desk_login"]
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    signed = await client.post("/login", data={"name": person.name, "password": person.password,
                                               "csrf": found.group(1)},
                               headers={"cookie": f"mash_desk_login={token}"})
    assert signed.status_code == 303, signed.text
    return {"cookie": f"mash_desk={signed.cookies['mash_desk']}"}


def tray_rows(html: str) -> dict[str, str]:
    """Each tray row's case and what it waits for (the third cell)."""
    rows = {}
    for chunk in html.split("<tr ")[1:]:
        case = re.search(r'data-case="([^"]+)"', chunk)
        cells = re.findall(r"<td>(.*?)</td>", chunk, flags=re.S)
        if case and len(cells) >= 2:
            rows[case.group(1)] = re.sub(r"<[^>]+>", "", cells[1]).strip()
    return rows


@pytest.fixture(scope="module")
async def cases(desk_stack: Stack, wire: Wire, people: dict[str, Person],
                base_url: str) -> dict[str, Case]:
    """The seeds sent as signed police contacts, each case opened by intake,
    researched and proposed, and shown on the tray as waiting for a
    recommendation (polled as the operator sees it)."""
    run = secrets.token_hex(3)
    now = utc_now()
    sent: dict[str, tuple[Seed, datetime]] = {}
    for seed in SEEDS:
        cid = f"desk-{seed.key}-{run}"
        received = now - seed.age
        await wire.send(topics.CONTACTS_SUBMITTED, submitted(seed, cid, received), key=cid)
        sent[cid] = (seed, received)
    opened: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(opened) < len(sent) and time.monotonic() < deadline:
        for _topic, raw in await wire.read(*topics.lanes(topics.CASES_OPENED)):
            event = CaseOpened.model_validate_json(raw)
            if event.correlation_id in sent:
                opened[event.correlation_id] = event.data.case_id
        await asyncio.sleep(0.1)
    assert set(opened) == set(sent), "intake did not open a case for every contact"
    found = {seed.key: Case(seed, cid, opened[cid], received)
             for cid, (seed, received) in sent.items()}

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        cookie = await sign_in_over_http(client, people["operator"])
        deadline = time.monotonic() + 60
        while True:
            page = await client.get("/tray", headers=cookie)
            assert page.status_code == 200, page.text
            rows = tray_rows(page.text)
            if all(rows.get(c.case_id) == "a recommendation" for c in found.values()):
                break
            assert time.monotonic() < deadline, f"not all proposed on the tray: {rows}"
            await asyncio.sleep(0.2)
    # The tray is checked against the seeds' ratings: they must be the rules' own.
    proposed: dict[str, Rag | None] = {}
    for _topic, raw in await wire.read(topics.CASE_HISTORY):
        line = CaseChanged.model_validate_json(raw).data
        if line.kind is HistoryKind.PROPOSED:
            proposed[line.case_id] = line.rag
    assert {key: proposed.get(c.case_id) for key, c in found.items()} == \
        {key: c.seed.rag for key, c in found.items()}, "the rules proposed other ratings"
    return found


# --- the browser ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="mash-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_window_size(1280, 1100)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: $MASH_SCREENSHOTS, else the test's tmp_path."""
    where = Path(os.environ["MASH_SCREENSHOTS"]) if os.environ.get("MASH_SCREENSHOTS") \
        else tmp_path
    where.mkdir(parents=True, exist_ok=True)
    return where


class Desk:
    """The desk as a person uses it: pages, forms and what they say, through
    the browser (blocking: call from a worker thread, see ``step``)."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.driver, self.base = driver, base
        self.who: Person | None = None  # signed in, as far as this browser knows

    def wait(self, timeout: float = WAIT) -> WebDriverWait[WebDriver]:
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05)

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    @property
    def path(self) -> str:
        return str(self.driver.current_url).removeprefix(self.base)

    def text(self, element_id: str) -> str:
        return str(self.driver.find_element(By.ID, element_id).text)

    def has(self, element_id: str) -> bool:
        return bool(self.driver.find_elements(By.ID, element_id))

    def heading(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def main(self) -> str:
        return str(self.driver.find_element(By.ID, "main").text)

    def submit(self, form_id: str) -> None:
        """Press the form's button and wait for the page that answers it."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]").click()
        self.wait().until(expected_conditions.staleness_of(old))
        self.wait().until(lambda d: d.execute_script("return document.readyState") == "complete")

    def fill(self, element_id: str, text: str) -> None:
        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(text)

    def logout(self) -> None:
        """Sign out with the page's own button (the desk ends the session)."""
        if self.who is not None and not self.driver.find_elements(By.CSS_SELECTOR,
                                                                  "form.who button"):
            self.open("/")
        if self.driver.find_elements(By.CSS_SELECTOR, "form.who button"):
            old = self.driver.find_element(By.TAG_NAME, "html")
            self.driver.find_element(By.CSS_SELECTOR, "form.who button").click()
            self.wait().until(expected_conditions.staleness_of(old))
        self.driver.delete_all_cookies()
        self.who = None

    def login(self, person: Person, password: str | None = None) -> None:
        """Sign in as this person, signing out whoever else is signed in (a
        login costs an Argon2 check: one already signed in stays so)."""
        if password is None and self.who == person:
            return
        self.logout()
        self.open("/login")
        self.fill("name", person.name)
        self.fill("password", password if password is not None else person.password)
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
        self.wait().until(expected_conditions.staleness_of(old))
        if self.driver.find_elements(By.ID, "me"):
            self.who = person

    def verdict(self) -> tuple[str, str]:
        """The decision service's verdict on the command just sent, once the
        page has it: (its class, its words)."""
        def said(driver: WebDriver) -> tuple[str, str] | None:
            try:
                found = driver.find_element(By.ID, "verdict")
                kind, text = found.get_attribute("class") or "", str(found.text)
            except (NoSuchElementException, StaleElementReferenceException):
                return None
            return None if "waiting" in kind else (kind, text)
        result: tuple[str, str] = self.wait().until(said)
        return result

    def status(self, path: str) -> int:
        """The HTTP status of a page, fetched by the page itself (the same
        session's cookie): WebDriver does not report statuses."""
        status: int = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {credentials: 'same-origin', redirect: 'manual'})"
            ".then(r => done(r.status), e => done(String(e)));", self.base + path)
        return status

    def tray(self) -> list[tuple[str, str]]:
        """The tray's rows in page order: (case, the RAG its first cell says)."""
        rows: list[list[str]] = self.driver.execute_script(
            "return [...document.querySelectorAll('#tray tr[data-case]')]"
            ".map(r => [r.dataset.case, r.cells[0].innerText.trim()]);")
        return [(case, rag.split()[-1] if rag else "") for case, rag in rows]

    def history(self) -> list[str]:
        return [str(e.text) for e in self.driver.find_elements(By.CSS_SELECTOR, "ol.history li")]

    def shot(self, where: Path, name: str) -> Path:
        path = where / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        return path


@pytest.fixture(scope="module")
def desk(browser: WebDriver, base_url: str) -> Desk:
    return Desk(browser, base_url)


async def step(work: Callable[[], T]) -> T:
    """Browser work off the event loop, which keeps following the stack."""
    return await asyncio.to_thread(work)


def on_case(case_id: str) -> Callable[[str, bytes], bool]:
    """Matches any event or command about this case, for `Wire.wait_for`."""
    return lambda _topic, value: json.loads(value).get("data", {}).get("case_id") == case_id
