"""The desk's pages: the work tray, a case, the forms that send commands,
and an agency researcher's own enquiries. Every page checks who is asking
(the session) and what their role lets them see; the decision service
checks every command again."""

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from authlib.integrations.starlette_client import OAuth
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from contracts.caseview import OPEN_STAGES, HistoryLine, Stage
from contracts.casework import (
    Actor,
    DecideCommand,
    DecideData,
    HistoryKind,
    RecommendationData,
    RecommendCommand,
    ResearchNoteCommand,
    ResearchNoteData,
    Role,
)
from contracts.codes import cin_factors
from contracts.contact import Rag
from contracts.events import Outcome
from plumbing.unit_of_work import UnitOfWork
from plumbing.wire import plain_errors
from services.desk import domain, handlers, identity, metrics, store
from services.desk.settings import DeskSettings
from services.desk.tray import Tray, as_time

HERE = Path(__file__).resolve().parent
SOURCE = "/mash/desk"
ACCEPTED = frozenset({HistoryKind.RECOMMENDED, HistoryKind.AUTHORISED, HistoryKind.OVERRIDDEN,
                      HistoryKind.REVIEWED})
# A page of the tray: the most urgent first; the rest a page away.
PAGE = 100
FILTERS: dict[str, list[str] | None] = {
           "all": None, "mine": None, "manager": sorted(s.value for s in domain.WAITING_FOR_MANAGER),
           "gathering": [Stage.GATHERING.value],
           "deciding": [Stage.AWAITING_DECISION.value, Stage.RECOMMENDED.value],
           "breached": None}
log = logging.getLogger("mash.desk.pages")

Clock = Callable[[], datetime]
Page = Callable[[Request, identity.Session], Awaitable[Response]]


def utc() -> datetime:
    return datetime.now(UTC)


class Desk:
    """The web side of the desk: its settings, its database and unit of
    work (the service's), its templates and its login throttle."""

    def __init__(self, settings: DeskSettings, uow: UnitOfWork,
                 db: AsyncDatabase[dict[str, Any]], clock: Clock = utc) -> None:
        self.settings, self.uow, self.db, self.clock = settings, uow, db, clock
        self.windows = settings.windows()
        self.throttle = identity.Throttle(settings.login_failures, settings.login_window_seconds)
        self.directory = identity.Directory(settings.users_file)
        self.tray_index = Tray()
        self.templates = Jinja2Templates(directory=HERE / "templates")
        env = self.templates.env
        env.globals.update(factors=cin_factors(), Stage=Stage, Role=Role,
                           outcomes=list(Outcome), rags=list(Rag))
        env.filters["left"] = lambda due: domain.time_left(due, self.clock())
        env.filters["when"] = lambda at: at.astimezone(UTC).strftime("%d %b %H:%M") \
            if at else "—"
        env.filters["words"] = lambda v: str(getattr(v, "value", v) or "").replace("-", " ")

    # --- plumbing of every page -------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200,
               session: identity.Session | None = None, **context: Any) -> Response:
        context.update(me=session.actor if session else None,
                       csrf=session.csrf if session else None, now=self.clock())
        response: Response = self.templates.TemplateResponse(request, name, context,
                                                             status_code=status)
        return response

    async def session(self, request: Request) -> identity.Session | None:
        token = request.cookies.get(identity.COOKIE)
        if not token:
            return None
        doc = await store.session(self.db, token)
        if doc is None:
            return None
        now = self.clock()
        found = identity.Session.of(token, doc)
        gone = doc.get("via") == "password" and not self.directory.still(found.actor)
        if gone or now - found.last_seen.astimezone(UTC) > self.settings.idle:
            await store.end_session(self.db, token)
            return None
        if (now - found.last_seen.astimezone(UTC)).total_seconds() > 30:
            await store.touch(self.db, token, now)
        return found

    def signed_in(self, page: Page, *, form: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """A page for a signed-in person; a form also proves it came from
        the desk's own page (the session's CSRF token)."""
        async def endpoint(request: Request) -> Response:
            session = await self.session(request)
            if session is None:
                if request.headers.get("HX-Request"):
                    return Response(status_code=401, headers={"HX-Redirect": "/login"})
                return RedirectResponse("/login", status_code=303)
            if form:
                data = await request.form()
                if not identity.same_token(session.csrf, _text(data, "csrf")):
                    return self.render(request, "error.html", 403, session,
                                       message="This form is out of date or did not come from "
                                               "the desk. Open the page again and resend it.")
                request.state.form = data
            return await page(request, session)
        return endpoint

    def forbidden(self, request: Request, session: identity.Session, why: str) -> Response:
        log.warning("refused %s to %s (%s): %s", request.url.path, session.actor.actor_id,
                    session.actor.role.value, why)
        return self.render(request, "error.html", 403, session, message=why)

    # --- signing in and out -------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = self.render(request, "login.html", login_csrf=token,
                               oidc=self.settings.oidc_issuer is not None)
        self._cookie(response, identity.LOGIN_COOKIE, token, max_age=900)
        return response

    async def login(self, request: Request) -> Response:
        data = await request.form()
        name, password = _text(data, "name") or "", _text(data, "password") or ""
        expected = request.cookies.get(identity.LOGIN_COOKIE) or ""
        if not expected or not identity.same_token(expected, _text(data, "csrf")):
            return self.render(request, "login.html", 403, login_csrf=expected,
                               error="The login form expired. Try again.")
        address = request.client.host if request.client else "unknown"
        keys = (f"name:{name.lower()}", f"address:{address}")
        if self.throttle.blocked(*keys):
            metrics.LOGINS.labels(result="throttled").inc()
            return self.render(request, "login.html", 429, login_csrf=expected,
                               error="Too many failed logins. Wait a few minutes and try again.")
        actor = await asyncio.to_thread(self.directory.check, name, password)
        if actor is None:
            self.throttle.failed(*keys)
            metrics.LOGINS.labels(result="refused").inc()
            log.warning("failed login from %s", address)
            return self.render(request, "login.html", 401, login_csrf=expected,
                               error="That name and password do not match an account.")
        metrics.LOGINS.labels(result="signed-in").inc()
        return await self._start(actor, via="password")

    async def _start(self, actor: Actor, via: str) -> Response:
        now = self.clock()
        started = identity.new_session(actor, now)
        await store.new_session(self.db, started.token, started.record(now, via))
        async with self.uow.transaction() as tx:
            tx.audit(actor=actor.actor_id, action="signed in",
                     what={"role": actor.role.value, "agency": actor.agency, "via": via})
        response = RedirectResponse(home(actor), status_code=303)
        self._cookie(response, identity.COOKIE, started.token)
        response.delete_cookie(identity.LOGIN_COOKIE, path="/")
        return response

    async def whoami(self, request: Request, session: identity.Session) -> Response:
        """For a client that is not a browser (the CLI): who it is signed in
        as, and the token its forms carry."""
        return JSONResponse({"actor": session.actor.model_dump(mode="json"),
                             "csrf": session.csrf})

    async def logout(self, request: Request, session: identity.Session) -> Response:
        await store.end_session(self.db, session.token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(identity.COOKIE, path="/")
        return response

    def _cookie(self, response: Response, name: str, value: str,
                max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                            secure=self.settings.cookie_secure, samesite="strict")

    # --- the work tray ------------------------------------------------------------

    async def index(self, request: Request, session: identity.Session) -> Response:
        return RedirectResponse(home(session.actor), status_code=303)

    async def tray(self, request: Request, session: identity.Session) -> Response:
        if not domain.may_work_cases(session.actor):
            return self.forbidden(request, session, "The work tray is for the MASH team. "
                                                    "Your agency's enquiries are under Enquiries.")
        shown = request.query_params.get("show", "all")
        rag = request.query_params.get("rag") or None
        if shown not in FILTERS or rag not in (None, *(r.value for r in Rag)):
            return self.render(request, "error.html", 400, session, message="No such filter.")
        page = request.query_params.get("page", "1")
        if not page.isdigit() or int(page) < 1:
            return self.render(request, "error.html", 400, session, message="No such page.")
        rows = await self._rows(session.actor, shown, rag)
        first = (int(page) - 1) * PAGE
        partial = request.headers.get("HX-Request") == "true"
        return self.render(request, "tray_rows.html" if partial else "tray.html",
                           session=session, rows=rows[first:first + PAGE], total=len(rows),
                           first=first, page=int(page), pages=max(1, -(-len(rows) // PAGE)),
                           shown=shown, rag=rag, gauges=domain.gauges(rows, self.clock()))

    async def _rows(self, actor: Actor, shown: str, rag: str | None) -> list[domain.TrayRow]:
        self.tray_index.wanted()
        if not self.tray_index.loaded.is_set():
            await self.tray_index.refresh(self.db)  # the first page since nobody looked
        rows = self.tray_index.open(FILTERS[shown], rag)
        now = self.clock()
        if shown == "mine":
            rows = [r for r in rows if domain.waits_for(r, actor)]
        elif shown == "breached":
            rows = [r for r in rows if r.breached or (r.due_at is not None and r.due_at < now)]
        return rows

    # --- a case -----------------------------------------------------------------------

    async def case(self, request: Request, session: identity.Session) -> Response:
        actor = session.actor
        if not domain.may_work_cases(actor):
            return self.forbidden(request, session, "A case's page is for the MASH team: "
                                                    "you see your own agency's enquiries.")
        case_id = request.path_params["case_id"]
        view = await store.view(self.db, case_id)
        if view is None:
            return self.render(request, "error.html", 404, session, message="No such case.")
        async with self.uow.transaction() as tx:
            handlers.viewed(tx, actor, case_id, "case")
        command = request.query_params.get("command")
        verdict = await store.verdict(self.db, case_id, command) if command else None
        return self.render(request, "case.html", session=session, case=view,
                           trail=view.trail(), verdict=verdict, command=command,
                           waiting=command is not None and verdict is None,
                           accepted=ACCEPTED, can_recommend=domain.may_recommend(actor, view),
                           can_decide=domain.may_decide(actor, view), error=None)

    async def verdict(self, request: Request, session: identity.Session) -> Response:
        """The htmx part that keeps asking for a command's verdict."""
        if not domain.may_work_cases(session.actor):
            return self.forbidden(request, session, "Verdicts are for the MASH team.")
        case_id, command = request.path_params["case_id"], request.path_params["command"]
        found = await store.verdict(self.db, case_id, command)
        if _wants_json(request):
            return JSONResponse(_verdict_json(found, command))
        if found is None:
            return self.render(request, "verdict.html", session=session, verdict=None,
                               case_id=case_id, command=command, accepted=ACCEPTED)
        # The verdict is in: the whole page again, with it.
        return Response(status_code=200, headers={
            "HX-Redirect": f"/cases/{case_id}?command={command}"})

    async def recommend(self, request: Request, session: identity.Session) -> Response:
        form: FormData = request.state.form
        case_id = request.path_params["case_id"]
        try:
            command = RecommendCommand.new(RecommendationData(
                case_id=case_id, actor=session.actor, rag=Rag(_text(form, "rag") or ""),
                outcome=Outcome(_text(form, "outcome") or ""),
                level_of_need=_level(form), rationale=_text(form, "rationale") or "",
                advice=_text(form, "advice")), source=SOURCE, subject=case_id,
                correlation_id=case_id)
        except (ValidationError, ValueError) as error:
            return await self._refused_here(request, session, case_id, error)
        return await self._send(request, session, command)

    async def decide(self, request: Request, session: identity.Session) -> Response:
        form: FormData = request.state.form
        case_id = request.path_params["case_id"]
        override = _text(form, "action") == "override"
        try:
            command = DecideCommand.new(DecideData(
                case_id=case_id, actor=session.actor,
                action="override" if override else "authorise",
                rag=Rag(_text(form, "rag") or "") if override else None,
                outcome=Outcome(_text(form, "outcome") or "") if override else None,
                level_of_need=_level(form) if override else None,
                rationale=_text(form, "rationale"), advice=_text(form, "advice")),
                source=SOURCE, subject=case_id, correlation_id=case_id)
        except (ValidationError, ValueError) as error:
            return await self._refused_here(request, session, case_id, error)
        return await self._send(request, session, command)

    async def _refused_here(self, request: Request, session: identity.Session, case_id: str,
                            error: Exception) -> Response:
        """A form that cannot make a command (a blank rationale, an override
        without its RAG): refused with the reason, and nothing is sent."""
        said = "; ".join(p for _, p in plain_errors(error)) if isinstance(error, ValidationError) \
            else "choose a RAG and an outcome from the lists"
        if _wants_json(request):
            return JSONResponse({"verdict": "refused", "text": f"Command refused: {said}"}, 422)
        view = await store.view(self.db, case_id)
        if view is None:
            return self.render(request, "error.html", 404, session, message="No such case.")
        return self.render(request, "case.html", 422, session=session, case=view,
                           trail=view.trail(), verdict=None, command=None, waiting=False,
                           accepted=ACCEPTED,
                           can_recommend=domain.may_recommend(session.actor, view),
                           can_decide=domain.may_decide(session.actor, view),
                           error=f"Refused: {said}. Nothing was sent.")

    async def _send(self, request: Request, session: identity.Session,
                    command: RecommendCommand | DecideCommand) -> Response:
        """Publish, then wait for the decision service's word on it: the page
        says accepted or refused, never merely sent."""
        case_id = command.data.case_id
        if await store.view(self.db, case_id) is None:
            return self.render(request, "error.html", 404, session, message="No such case.")
        async with self.uow.transaction() as tx:
            handlers.send_command(tx, command)
        found = await self._await_verdict(case_id, command.id)
        metrics.COMMANDS.labels(command=command.type.rsplit(".", 1)[-1],
                                verdict=_verdict_json(found, command.id)["verdict"]).inc()
        if _wants_json(request):
            return JSONResponse(_verdict_json(found, command.id), 202 if found is None else 200)
        return RedirectResponse(f"/cases/{case_id}?command={command.id}", status_code=303)

    async def _await_verdict(self, case_id: str, command_id: str) -> HistoryLine | None:
        deadline = time.monotonic() + self.settings.verdict_wait_seconds
        pause = 0.02
        while time.monotonic() < deadline:
            found = await store.verdict(self.db, case_id, command_id)
            if found is not None:
                return found
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.25)
        return None

    # --- an agency researcher's enquiries -----------------------------------------------

    async def enquiries(self, request: Request, session: identity.Session) -> Response:
        actor = session.actor
        if actor.role is not Role.RESEARCHER or actor.agency is None:
            return self.forbidden(request, session, "Enquiries are for agency researchers.")
        docs = await store.enquiries_to(self.db, actor.agency)
        rows = []
        for doc in docs:
            line = next(a for a in doc["agencies"] if a["agency"] == actor.agency)
            rows.append({"case_id": doc["_id"], "rag": doc.get("rag") or doc.get("triage_rag"),
                         "answer_by": as_time(line.get("answer_by")),
                         "answered_at": as_time(line.get("answered_at"))})
        return self.render(request, "enquiries.html", session=session, rows=rows,
                           agency=actor.agency)

    async def enquiry(self, request: Request, session: identity.Session) -> Response:
        actor = session.actor
        agency, case_id = request.path_params["agency"], request.path_params["case_id"]
        if not domain.may_see_enquiry(actor, agency):
            return self.forbidden(request, session, "You see your own agency's enquiries only.")
        view = await store.view(self.db, case_id)
        line = view.agency(agency) if view else None
        if view is None or line is None:
            return self.render(request, "error.html", 404, session,
                               message="No enquiry to your agency on that case.")
        async with self.uow.transaction() as tx:
            handlers.viewed(tx, actor, case_id, f"enquiry to {agency}")
        return self.render(request, "enquiry.html", session=session, case=view, line=line,
                           agency=agency, said=None, error=None)

    async def note(self, request: Request, session: identity.Session) -> Response:
        """A researcher adds to their own agency's answer, through its research
        service (its disclosure policy and audit apply); the page says when
        the agency has answered again with it."""
        actor, form = session.actor, request.state.form
        agency, case_id = request.path_params["agency"], request.path_params["case_id"]
        if not domain.may_see_enquiry(actor, agency):
            return self.forbidden(request, session, "You add to your own agency's answers only.")
        view = await store.view(self.db, case_id)
        line = view.agency(agency) if view else None
        if view is None or line is None:
            return self.render(request, "error.html", 404, session,
                               message="No enquiry to your agency on that case.")
        try:
            occurred = _text(form, "occurred_on")
            command = ResearchNoteCommand.new(ResearchNoteData(
                case_id=case_id, agency=agency, actor=actor,
                person_ref=_text(form, "person_ref") or "", category=_text(form, "category") or "",
                summary=_text(form, "summary") or "", risk=_text(form, "risk") or "",
                occurred_on=date.fromisoformat(occurred) if occurred else None),
                source=SOURCE, subject=case_id, correlation_id=case_id)
        except (ValidationError, ValueError) as error:
            said = "; ".join(p for _, p in plain_errors(error)) \
                if isinstance(error, ValidationError) else "a date is YYYY-MM-DD"
            return self.render(request, "enquiry.html", 422, session=session, case=view,
                               line=line, agency=agency, said=None,
                               error=f"Refused: {said}. Nothing was sent.")
        async with self.uow.transaction() as tx:
            handlers.send_note(tx, command)
        deadline = time.monotonic() + self.settings.verdict_wait_seconds
        answered = False
        while not answered and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            answered = await store.answered_after(self.db, case_id, agency, command.id)
        metrics.COMMANDS.labels(command="note", verdict="accepted" if answered
                                else "waiting").inc()
        view = await store.view(self.db, case_id) or view
        said = (f"{agency}'s research service recorded your note and answered the enquiry "
                "again under its disclosure policy." if answered else
                f"Sent to {agency}'s research service; it has not answered again yet. "
                "Open this page later to see its answer.")
        return self.render(request, "enquiry.html", session=session, case=view,
                           line=view.agency(agency) or line, agency=agency, said=said,
                           error=None)

    # --- OpenID Connect (production) -----------------------------------------------------

    def oidc_routes(self) -> list[Route]:
        """Sign in through the organisation's identity provider (Authlib):
        the provider authenticates the person and asserts their role; the
        desk keeps no password. Only when MASH_OIDC_ISSUER is set."""
        s = self.settings
        if s.oidc_issuer is None:
            return []
        oauth = OAuth()
        oauth.register(
            "idp", client_id=s.oidc_client_id,
            client_secret=s.oidc_client_secret.get_secret_value() if s.oidc_client_secret
            else None,
            server_metadata_url=s.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email"})
        client = oauth.create_client("idp")

        async def begin(request: Request) -> Response:
            response: Response = await client.authorize_redirect(
                request, str(request.url_for("oidc-callback")))
            return response

        async def callback(request: Request) -> Response:
            token = await client.authorize_access_token(request)
            actor = identity.actor_from_claims(dict(token.get("userinfo") or {}),
                                               s.oidc_role_claim, s.oidc_agency_claim)
            if actor is None:
                log.warning("OpenID Connect sign-in with no desk role refused")
                return self.render(request, "login.html", 403, login_csrf="",
                                   oidc=True, error="Your account has no MASH desk role. "
                                                    "Ask your administrator.")
            return await self._start(actor, via="oidc")

        return [Route("/login/oidc", begin), Route("/login/oidc/callback", callback,
                                                   name="oidc-callback")]

    # --- the app ------------------------------------------------------------------------

    def app(self, extra: list[Route] | None = None) -> Starlette:
        def page(p: Page, form: bool = False) -> Callable[[Request], Awaitable[Response]]:
            return self.signed_in(p, form=form)
        routes = [
            Route("/", page(self.index)),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", page(self.logout, form=True), methods=["POST"]),
            Route("/session", page(self.whoami)),
            Route("/tray", page(self.tray)),
            Route("/cases/{case_id}", page(self.case)),
            Route("/cases/{case_id}/verdict/{command}", page(self.verdict)),
            Route("/cases/{case_id}/recommend", page(self.recommend, form=True),
                  methods=["POST"]),
            Route("/cases/{case_id}/decide", page(self.decide, form=True), methods=["POST"]),
            Route("/enquiries", page(self.enquiries)),
            Route("/enquiries/{agency}/{case_id}", page(self.enquiry)),
            Route("/enquiries/{agency}/{case_id}/note", page(self.note, form=True),
                  methods=["POST"]),
            *self.oidc_routes(),
            *(extra or []),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        web = Starlette(routes=routes)
        if self.settings.oidc_issuer is not None:
            # Authlib keeps the sign-in's state and nonce in a signed cookie
            # for the round trip to the provider; the desk's session is not in it.
            secret = self.settings.oidc_state_secret
            if secret is None:
                raise ValueError("MASH_OIDC_ISSUER needs MASH_OIDC_STATE_SECRET")
            web.add_middleware(SessionMiddleware, secret_key=secret.get_secret_value(),
                               session_cookie="mash_desk_oidc", max_age=600,
                               same_site="lax", https_only=self.settings.cookie_secure)
        web.add_middleware(SecurityHeaders)
        return web


class SecurityHeaders:
    """Every response: no framing, no inline script, nothing cached, no
    referrer (a case id in a URL stays on the desk)."""

    HEADERS = [(b"content-security-policy",
                b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                b"form-action 'self'"),
               (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS
            await send(message)
        await self.app(scope, receive, with_headers)


def home(actor: Actor) -> str:
    return "/enquiries" if actor.role is Role.RESEARCHER else "/tray"


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


def _level(form: FormData) -> int | None:
    text = _text(form, "level")
    return int(text) if text and text.isdigit() else None


def _verdict_json(found: HistoryLine | None, command_id: str) -> dict[str, str]:
    if found is None:
        return {"verdict": "waiting", "command_id": command_id}
    return {"verdict": "accepted" if found.kind in ACCEPTED else "refused",
            "kind": found.kind.value, "text": found.text, "command_id": command_id}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


__all__ = ["OPEN_STAGES", "Desk"]
