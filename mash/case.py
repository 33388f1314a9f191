"""`mash case`: the practitioner's view of a case and their commands on it.

`show` and `list` read the decision service's database over the wire,
read-only (``mash_decision``); `recommend` and `decide` publish commands on
``mash.commands.decision``, which the decision service acts on and records.
Nothing here imports a service.

`show` prints the product for a practitioner, names included: it is a screen
for someone entitled to see the case, never a log.
"""

import os
import re
import time
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import httpx
import typer
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from contracts.caseview import COLLECTION, OPEN_STAGES, CaseView
from contracts.casework import (
    HistoryKind,
)
from contracts.codes import cin_factors
from contracts.contact import Contact, Rag
from contracts.events import (
    CaseOpenedData,
    DecisionData,
    Domain,
    Explanation,
    FindingData,
    Outcome,
)
from mash.settings import StackSettings

DATABASE = "mash_decision"
# The desk keeps the case views (contracts/caseview.py); the operator reads them.
VIEWS_DATABASE = "mash_desk"
LONDON = ZoneInfo("Europe/London")

case_app = typer.Typer(help="A case: show the product, recommend, decide.", no_args_is_help=True)


class CaseSettings(BaseSettings):
    """Where the case record and the commands topic are: the embedded stack's
    (the operator's database user, from MASH_HOME) unless MASH_CASE_MONGO_URI /
    MASH_KAFKA_BOOTSTRAP_SERVERS say otherwise. Not MASH_MONGO_URI: that is a
    service's own user, limited to its own database."""

    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    case_mongo_uri: str | None = None
    kafka_bootstrap_servers: str | None = None

    def mongo(self) -> str:
        return self.case_mongo_uri or StackSettings().operator_mongo_uri

    def bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or StackSettings().bootstrap


# --- reading -----------------------------------------------------------------

def _when(value: str | datetime | None) -> str:
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.astimezone(LONDON):%a %d %b %Y %H:%M}"


def _people(contact: Contact) -> dict[str, str]:
    people = {f"child-{i}": f"{c.given_name} {c.family_name}"
              + (f", born {c.date_of_birth}" if c.date_of_birth else "")
              + (f", due {c.expected_date_of_delivery}" if c.expected_date_of_delivery else "")
              for i, c in enumerate(contact.children)}
    people |= {f"adult-{i}": f"{m.given_name} {m.family_name} ({m.relationship})"
               for i, m in enumerate(contact.household)}
    return people


def _contact_lines(contact: Contact, label: str) -> list[str]:
    factors = cin_factors()
    people = _people(contact)
    referrer = contact.referrer
    who = "anonymous" if referrer.anonymous else (referrer.role or referrer.agency)
    lines = [f"{label} {contact.contact_id}: {referrer.agency} ({who}), ref "
             f"{contact.referrer_reference}, {contact.channel}, received "
             f"{_when(contact.received_at)}; urgency {contact.urgency.value}; referrer RAG "
             f"{contact.referrer_rag.value if contact.referrer_rag else '-'}"]
    lines += [f"  {ref}: {name}" for ref, name in people.items()]
    lines.append("  concerns: " + "; ".join(f"{c} {factors.get(c, '?')}" for c in contact.concerns))
    consent = contact.consent
    lines.append(f"  consent: {consent.state.value}" + (f" ({consent.reason})" if consent.reason
                                                         else ""))
    lines.append(f"  analysis: {contact.analysis}")
    return lines


def _rag_trail(doc: dict[str, Any], opened: CaseOpenedData) -> list[str]:
    contact = opened.contact
    rows = [("referrer", contact.referrer_rag.value if contact.referrer_rag else "-",
             f"{contact.referrer.agency}, on the contact"),
            ("triage", opened.triage_rag.value, "intake: the priority research ran at")]
    proposal = doc.get("proposal")
    if proposal:
        fired = ", ".join(r["rule_id"] for r in proposal["reasons"])
        rows.append(("proposed", proposal["rag"], f"rules {proposal['rule_set_version']}: {fired}"))
    decision = doc.get("decision")
    recommended = [h for h in doc.get("history") or [] if h["kind"] == "recommended"]
    if recommended:
        rec = recommended[-1]
        rows.append(("recommended", rec["rag"], f"{rec['actor']['actor_id']}: {rec['text']}"))
    if decision:
        d = DecisionData.model_validate(decision)
        why = d.rationale or ("auto-authorised, no person reviewed" if d.decided_by == "rules"
                              else "authorised as proposed")
        rows.append(("final", d.rag.value, f"{d.decided_by}: {why}"))
    return [f"  {name:<12} {rag:<6} {why}" for name, rag, why in rows]


def _why(doc: dict[str, Any]) -> list[str]:
    """The threshold model's explanation: indicators by domain, with where
    each came from, the combinations and floors applied, consent, and the
    evidence missing."""
    source = doc.get("proposal") or {}
    raw = source.get("explanation") or (doc.get("decision") or {}).get("explanation")
    if not raw:
        return []
    e = Explanation.model_validate(raw)
    lines = ["", f"Why (threshold model {source.get('rule_set_version', '?')}): the indicators "
                 f"reach level {e.level}"]
    for domain in Domain:
        found = [i for i in e.indicators if i.domain is domain]
        if found:
            lines.append(f"  {domain.value}")
            lines += [f"    L{i.level} {i.text} - {i.source}"
                      + (f": {i.evidence}" if i.evidence else "") for i in found]
    lines += [f"  applied  {c.rule_id}: {c.text}" for c in e.combinations]
    for f in e.floors:
        lines.append(f"  floor    {f.floor} {f.rag.value}"
                     + (" - held the RAG above the indicators" if f.applied else ""))
    if e.consent:
        lines.append(f"  consent  {e.consent}")
    if e.missing:
        lines.append("  missing  no evidence from " + ", ".join(e.missing)
                     + ": decided without it")
    return lines


def _chronology(opened: CaseOpenedData, added: list[Contact],
                findings: dict[str, FindingData]) -> list[str]:
    people: dict[str, str] = {}
    for contact in (opened.contact, *added):
        people = _people(contact) | people
    events: list[tuple[str, str]] = []
    for contact in (opened.contact, *added):
        events.append((contact.received_at.date().isoformat(),
                       f"{'contact':<10} {contact.referrer.agency}: "
                       + ", ".join(contact.concerns) + f" ({contact.contact_id})"))
    for agency, f in findings.items():
        for item in f.items:
            who = people.get(item.person_ref, item.person_ref)
            what = item.summary or "(held; the agency's policy allows only 'known' here)"
            events.append((item.occurred_on.isoformat() if item.occurred_on else "undated",
                           f"{agency:<10} {item.risk:<6} {item.category} - {who}: {what}"))
    events.sort(key=lambda e: (e[0] == "undated", e[0]))
    lines = [f"  {day:<10} {text}" for day, text in events]
    no_trace = sorted(a for a, f in findings.items() if f.result == "no-trace")
    if no_trace:
        lines.append("  no trace:  " + ", ".join(no_trace))
    return lines


def _flag(doc: dict[str, Any]) -> str:
    if (doc.get("decision") or {}).get("decided_by") == "rules":
        return "AWAITING A MANAGER'S CONFIRMATION"
    return "FLAGGED FOR REVIEW"


def render(doc: dict[str, Any]) -> list[str]:
    """The product: one readable record of the case."""
    case_id = str(doc["_id"])
    if "opened" not in doc:
        return [f"Case {case_id}: findings have arrived but the case has not opened yet"]
    opened = CaseOpenedData.model_validate(doc["opened"])
    added = [Contact.model_validate(a["contact"]) for a in doc.get("added") or []]
    findings = {a: FindingData.model_validate(f) for a, f in (doc.get("findings") or {}).items()}
    state = doc.get("state", "gathering")
    decisions = doc.get("decisions") or []
    title = {"gathering": "gathering findings", "proposed": "awaiting a manager's decision",
             "decided": f"decided (v{len(decisions)})"}.get(state, state)
    lines = [f"Case {case_id} - {title}" + (f"  ** {_flag(doc)} **" if doc.get("review")
                                            else ""),
             f"opened {_when(opened.opened_at)}; research deadline "
             f"{_when(opened.research_deadline)}", ""]
    lines += _contact_lines(opened.contact, "Contact")
    for contact, item in zip(added, doc.get("added") or [], strict=True):
        lines += _contact_lines(contact, f"Added ({item['reason']}, {_when(item['added_at'])})")
    if opened.data_quality:
        lines.append("  data quality: " + "; ".join(opened.data_quality))
    expected = opened.expected_agencies
    answered = [a for a in expected if a in findings]
    missing = [a for a in expected if a not in findings]
    lines += ["", f"Agencies: {len(answered)}/{len(expected)} answered"
              + (f"; not answered: {', '.join(missing)}" if missing else "")]
    lines += ["", "Chronology (every agency's findings, oldest first)"]
    lines += _chronology(opened, added, findings)
    lines += ["", "RAG", *_rag_trail(doc, opened)]
    lines += _why(doc)
    decision = doc.get("decision")
    if decision:
        d = DecisionData.model_validate(decision)
        lines += ["", f"Decision v{d.decision_version}: {d.rag.value} {d.outcome.value}, level of "
                      f"need {d.level_of_need}, by {d.decided_by} at {_when(d.decided_at)} "
                      f"(rules {d.rule_set_version})"]
        lines += [f"  {r.rule_id}: {r.text}" for r in d.reasons]
        if d.advice:
            lines.append(f"  advice: {d.advice}")
    elif doc.get("proposal"):
        p = doc["proposal"]
        lines += ["", f"Proposed: {p['rag']} {p['outcome']}, level of need {p['level_of_need']} "
                      f"(rules {p['rule_set_version']}) - waiting for `mash case decide`"]
        lines += [f"  {r['rule_id']}: {r['text']}" for r in p["reasons"]]
    for item in doc.get("review") or []:
        lines.append(f"  REVIEW: {item}")
    timescales = doc.get("timescales") or []
    if timescales:
        lines += ["", "Timescales"]
        for t in timescales:
            if t.get("met_at"):
                status = f"met {_when(t['met_at'])}"
            elif t.get("breached_at"):
                status = f"BREACHED (raised {_when(t['breached_at'])})"
            elif t.get("withdrawn_at"):
                status = "withdrawn (outcome changed)"
            elif t.get("warned_at"):
                status = "open, due soon"
            else:
                status = "open"
            lines.append(f"  {t['timescale']:<22} due {_when(t['due_at'])}  {status}")
    history = doc.get("history") or []
    if history:
        lines += ["", "History"]
        for h in history:
            what = " ".join(x for x in (h.get("rag"), h.get("outcome")) if x)
            lines.append(f"  {_when(h['at'])}  {h['kind']:<20} {h['actor']['actor_id']:<14} "
                         + (f"[{what}] " if what else "") + h["text"])
    return lines


def _find(client: MongoClient[dict[str, Any]], ref: str) -> dict[str, Any] | None:
    cases = client[DATABASE].cases
    return cases.find_one({"$or": [{"_id": ref}, {"opened.contact.contact_id": ref},
                                   {"added.contact.contact_id": ref}]})


def _client() -> MongoClient[dict[str, Any]]:
    return MongoClient(CaseSettings().mongo(), tz_aware=True, serverSelectionTimeoutMS=5000,
                       appname="mash-case")


@case_app.command()
def show(case: Annotated[str, typer.Argument(help="A case id, or a contact id on the case.")]
         ) -> None:
    """Print the case: contacts, every agency's findings as one chronology, the
    RAG trail, the decision and its reasons, timescales and history."""
    try:
        with _client() as client:
            doc = _find(client, case)
    except PyMongoError as error:
        typer.echo(f"mash case: cannot read the case database: {type(error).__name__}", err=True)
        raise typer.Exit(2) from error
    if doc is None:
        typer.echo(f"mash case: no case {case}", err=True)
        raise typer.Exit(1)
    for line in render(doc):
        typer.echo(line)


@case_app.command("list")
def list_cases(
    stage: Annotated[str | None, typer.Option(
        help="gathering, awaiting-decision, recommended, awaiting-confirmation, review or "
             "decided (default: every open case)")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Cases as the desk's work tray orders them: RED, AMBER, GREEN, then the
    least time left; read from the case view (contracts/caseview.py)."""
    query: dict[str, Any] = {"stage": stage} if stage else \
        {"stage": {"$in": sorted(OPEN_STAGES)}}
    try:
        with _client() as client:
            docs = list(client[VIEWS_DATABASE][COLLECTION].find(query).sort(
                [("rag_order", 1), ("due_at", 1), ("_id", 1)]).limit(limit))
    except PyMongoError as error:
        typer.echo(f"mash case: cannot read the case views: {type(error).__name__}", err=True)
        raise typer.Exit(2) from error
    typer.echo(_listed(docs, datetime.now(LONDON)))


def _listed(docs: list[dict[str, Any]], now: datetime) -> str:
    """One line per case, under a header: what a queue is worked by."""
    lines = [f"{'CASE':<14} {'RAG':<6} {'STAGE':<22} {'RECEIVED':<12} {'DUE':<12} "
             f"{'TIME LEFT':<18} REFERRER"]
    for doc in docs:
        view = CaseView.model_validate(doc)
        referrer = view.contacts[0].contact.referrer.agency if view.contacts else "-"
        left = _left(view.due_at, now) if view.due_at else "-"
        lines.append(f"{view.case_id:<14} {(view.rag or '-'):<6} {view.stage.value:<22} "
                     f"{_short(view.received_at):<12} {_short(view.due_at):<12} {left:<18} "
                     f"{referrer}")
    if not docs:
        lines.append("(no cases)")
    return "\n".join(lines)


def _short(moment: datetime | None) -> str:
    return f"{moment.astimezone(LONDON):%d %b %H:%M}" if moment else "-"


def _left(due: datetime, now: datetime) -> str:
    minutes = int((due - now).total_seconds() // 60)
    late, minutes = minutes < 0, abs(minutes)
    text = f"{minutes // 60} h {minutes % 60:02d} m"
    return f"overdue {text}" if late else text


# --- commands ----------------------------------------------------------------
#
# The CLI acts as a named person through the desk, the same verified path as
# the browser: it signs in with the person's own account, and the desk signs
# and publishes the command and waits for the decision service's verdict.
# Nobody declares who they are.

ACCEPTED = frozenset({HistoryKind.RECOMMENDED.value, HistoryKind.AUTHORISED.value,
                      HistoryKind.OVERRIDDEN.value, HistoryKind.REVIEWED.value})


class DeskRefused(Exception):
    """The desk said no before anything was sent (a wrong password, a form
    that cannot make a command)."""


class Desk:
    """A signed-in conversation with the desk over HTTP."""

    def __init__(self, url: str) -> None:
        # The desk's cookies are Secure; over http://localhost they are
        # carried by hand rather than by a cookie jar that would drop them.
        self.http = httpx.Client(base_url=url, timeout=30.0, follow_redirects=False)
        self.cookie = ""
        self.csrf = ""

    def sign_in(self, name: str, password: str) -> None:
        page = self.http.get("/login")
        token = page.cookies.get("mash_desk_login") or ""
        answer = self.http.post("/login", data={"csrf": token, "name": name,
                                                "password": password},
                                headers={"cookie": f"mash_desk_login={token}"})
        session = answer.cookies.get("mash_desk")
        if answer.status_code != 303 or not session:
            raise DeskRefused(_said(answer.text) or f"sign-in refused ({answer.status_code})")
        self.cookie = f"mash_desk={session}"
        me = self.http.get("/session", headers=self._headers())
        self.csrf = me.json()["csrf"]

    def _headers(self) -> dict[str, str]:
        return {"cookie": self.cookie, "accept": "application/json"}

    def command(self, case: str, what: str, form: dict[str, str]) -> dict[str, Any]:
        answer = self.http.post(f"/cases/{case}/{what}", data={**form, "csrf": self.csrf},
                                headers=self._headers())
        if answer.headers.get("content-type", "").startswith("application/json"):
            found: dict[str, Any] = answer.json()
            return found
        raise DeskRefused(_said(answer.text) or f"the desk answered {answer.status_code}")

    def verdict(self, case: str, command_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.http.get(f"/cases/{case}/verdict/{command_id}",
                                              headers=self._headers()).json()
        return found


def _said(html: str) -> str:
    """The message a desk page shows in its alert, as plain text."""
    found = re.search(r'role="alert"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


def desk_url() -> str:
    return os.environ.get("MASH_DESK_URL") or f"http://localhost:{StackSettings().desk_port}"


def send(case: str, what: str, form: dict[str, str], user: str, password: str,
         wait: float) -> dict[str, Any]:
    """Sign in as ``user``, send the form, and wait up to ``wait`` seconds
    for the decision service's verdict (``verdict`` "waiting" if none came)."""
    desk = Desk(desk_url())
    desk.sign_in(user, password)
    found = desk.command(case, what, form)
    deadline = time.monotonic() + wait
    while found.get("verdict") == "waiting" and time.monotonic() < deadline:
        time.sleep(0.5)
        found = {**desk.verdict(case, found["command_id"]), "command_id": found["command_id"]}
    return found


def _act(case: str, what: str, form: dict[str, str | None], user: str, wait: float) -> None:
    password = os.environ.get("MASH_PASSWORD") or typer.prompt(f"Password for {user}",
                                                               hide_input=True)
    try:
        found = send(case, what, {k: v for k, v in form.items() if v is not None}, user,
                     password, wait)
    except DeskRefused as refused:
        typer.echo(f"mash case: refused: {refused}", err=True)
        raise typer.Exit(2) from refused
    except httpx.HTTPError as error:
        typer.echo(f"mash case: cannot reach the desk at {desk_url()} ({type(error).__name__}): "
                   "is `mash up` running? (MASH_DESK_URL)", err=True)
        raise typer.Exit(2) from error
    if found.get("verdict") == "waiting":
        typer.echo(f"mash case: no answer from the decision service within {wait:g}s to "
                   f"{what} for {case}: it may be down or behind; `mash case show {case}` "
                   "shows whether it was taken", err=True)
        raise typer.Exit(3)
    text = str(found.get("text", "")).removeprefix("Command refused: ")
    if found.get("verdict") != "accepted":
        typer.echo(f"mash case: refused: {text}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{found.get('kind')}: case {case} by {user}: {text}")


Wait_ = Annotated[float, typer.Option(help="Seconds to wait for the decision service's verdict.")]
User_ = Annotated[str, typer.Option("--user", envvar="MASH_USER",
                                    help="Your desk account (or MASH_USER); the password is "
                                         "asked for, or read from MASH_PASSWORD")]
RagOpt = Annotated[Rag | None, typer.Option(help="RED, AMBER or GREEN")]
OutcomeOpt = Annotated[Outcome | None, typer.Option(help="The outcome")]


@case_app.command("recommend")
def recommend_cmd(
    case: str,
    user: User_,
    rag: Annotated[Rag, typer.Option(help="RED, AMBER or GREEN")],
    outcome: Annotated[Outcome, typer.Option(help="The outcome")],
    rationale: Annotated[str, typer.Option(help="Why: your analysis of the product")],
    level: Annotated[int | None, typer.Option(min=1, max=4, help="Level of need 1-4")] = None,
    advice: Annotated[str | None, typer.Option(help="Advice or signposting (NFA)")] = None,
    wait: Wait_ = 30.0,
) -> None:
    """Recommend on a case, as yourself, through the desk; exits 1 if the
    decision service refuses it, 2 if the desk does, 3 if no answer comes."""
    _act(case, "recommend", {"rag": rag.value, "outcome": outcome.value, "rationale": rationale,
                             "level": str(level) if level else None, "advice": advice},
         user, wait)


@case_app.command("decide")
def decide_cmd(
    case: str,
    user: User_,
    override: Annotated[bool, typer.Option(
        "--override/--authorise",
        help="Authorise (the recommendation, else the proposal) or override")] = False,
    rag: RagOpt = None,
    outcome: OutcomeOpt = None,
    rationale: Annotated[str | None, typer.Option(help="Why (required on override)")] = None,
    level: Annotated[int | None, typer.Option(min=1, max=4, help="Level of need 1-4")] = None,
    advice: Annotated[str | None, typer.Option(help="Advice or signposting (NFA)")] = None,
    wait: Wait_ = 30.0,
) -> None:
    """A manager's final decision, as yourself, through the desk; answers
    as `recommend` does."""
    _act(case, "decide", {"action": "override" if override else "authorise",
                          "rag": rag.value if rag else None,
                          "outcome": outcome.value if outcome else None,
                          "rationale": rationale, "level": str(level) if level else None,
                          "advice": advice}, user, wait)
