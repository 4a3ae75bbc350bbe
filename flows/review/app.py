"""The adjusters' review web app: a thin FastAPI edge over `pipeline.review`.

Server-rendered pages; sessions are signed cookies (secret in `OUT/review.secret`, owner
only), every form carries a per-session CSRF token, every view and change is audited, and
each route names the roles allowed to use it. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.middleware.sessions import SessionMiddleware

from pipeline.checks.completeness import load_checklists
from pipeline.config import Settings, load_settings
from pipeline.errors import ClaimIntakeError, ModelNotFoundError, ReviewError
from pipeline.fraud.history import ClaimHistory, InMemoryClaimHistory
from pipeline.fraud.registry import RegisteredModel, load_model
from pipeline.ledger.core import Ledger, ledger_target
from pipeline.ledger.history import LedgerClaimHistory
from pipeline.review.claims import (
    Rechecker,
    ReviewAction,
    list_versions,
    load_claim,
    load_claims,
    review_claim,
)
from pipeline.review.pages import page_png
from pipeline.review.queue import (
    SORT_KEYS,
    STATUSES,
    dashboard_stats,
    filter_queue,
    queue_items,
    received_times,
    sort_queue,
    status_counts,
)
from pipeline.review.store import ROLES, ReviewStore, User, open_store
from pipeline.review.view import claim_view

__all__ = ["create_app", "serve", "load_secret", "SECRET_FILE"]

log = logging.getLogger("claim_intake.review")

HERE = Path(__file__).resolve().parent
SECRET_FILE = "review.secret"
SESSION_SECONDS = 8 * 3600
EDIT_ROLES = ("adjuster", "admin")
LABEL_ROLES = ("analyst", "admin")
ADMIN_ROLES = ("admin",)
ALL_ROLES = ROLES


class LoginRequired(Exception):
    """Raised inside a route when no one is logged in; answered with a redirect to /login."""


def load_secret(out: Path) -> bytes:
    """The session-signing key of OUT, generated once and kept owner-only."""
    path = out / SECRET_FILE
    if path.is_file():
        data = path.read_bytes().strip()
        if len(data) >= 32:
            return data
    out.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    os.chmod(path, 0o600)
    return key


@dataclass
class _Context:
    out: Path
    inbox: Path | None
    settings: Settings
    store: ReviewStore
    templates: Jinja2Templates
    _fraud: list[RegisteredModel | None] = field(default_factory=list)

    def fraud_model(self) -> RegisteredModel | None:
        if not self._fraud:
            try:
                self._fraud.append(load_model(models_dir=self.settings.models_dir / "fraud"))
            except ModelNotFoundError:
                log.warning("no fraud model installed; review changes leave claims unscored")
                self._fraud.append(None)
        return self._fraud[0]


def _money(value: object, currency: str = "") -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def create_app(
    out: Path,
    inbox: Path | None = None,
    secret_key: bytes | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """The review app over the run output `out`; `inbox` (optional) lets it show page images."""
    out = Path(out).resolve()
    inbox = Path(inbox).resolve() if inbox is not None else None
    settings = settings or load_settings()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["money"] = _money
    templates.env.filters["when"] = _when
    ctx = _Context(
        out=out, inbox=inbox, settings=settings, store=open_store(out), templates=templates
    )
    app = FastAPI(title="claim-intake review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=(secret_key or load_secret(out)).decode("latin-1"),
        session_cookie="claim_review",
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=False,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.review = ctx

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'"
        )
        return response

    # -- helpers ---------------------------------------------------------------------------

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return str(token)

    def current_user(request: Request, roles: tuple[str, ...] = ALL_ROLES) -> User:
        name = request.session.get("user")
        user = ctx.store.user(str(name)) if name else None
        if user is None:
            request.session.pop("user", None)
            raise LoginRequired()
        if user.role not in roles:
            ctx.store.audit(user.name, "denied", request.url.path, _claim_of(request))
            raise HTTPException(status_code=403, detail=f"role {user.role} may not do this")
        return user

    def _claim_of(request: Request) -> str | None:
        value = request.path_params.get("claim_id")
        return str(value) if value is not None else None

    async def checked_form(request: Request) -> FormData:
        form = await request.form()
        sent = form.get("csrf_token")
        expected = request.session.get("csrf")
        if (
            not isinstance(sent, str)
            or not expected
            or not secrets.compare_digest(sent, str(expected))
        ):
            who = request.session.get("user")
            ctx.store.audit(
                str(who) if who else None, "csrf_refused", request.url.path, _claim_of(request)
            )
            raise HTTPException(status_code=403, detail="missing or invalid CSRF token")
        return form

    def render(request: Request, name: str, user: User | None, **values: Any) -> HTMLResponse:
        flash = request.session.pop("flash", None)
        return templates.TemplateResponse(
            request,
            name,
            {"user": user, "csrf": csrf_token(request), "flash": flash, **values},
        )

    def text(form: FormData, key: str) -> str | None:
        value = form.get(key)
        return value if isinstance(value, str) else None

    def rechecker() -> tuple[Rechecker, Ledger | None]:
        target = ledger_target(out, settings.ledger_url)
        ledger = Ledger.open(target) if isinstance(target, str) or target.is_file() else None
        history: ClaimHistory = (
            LedgerClaimHistory(ledger)
            if ledger is not None
            else InMemoryClaimHistory(load_claims(out))
        )
        checker = Rechecker(
            thresholds=settings.review,
            checklists=load_checklists(settings.checklists),
            fraud_model=ctx.fraud_model(),
            history=history,
        )
        return checker, ledger

    def act(request: Request, user: User, claim_id: str, actions: list[ReviewAction]) -> Response:
        checker, ledger = rechecker()
        try:
            result = review_claim(out, claim_id, actions, user.name, checker, ctx.store)
        except ReviewError as exc:
            ctx.store.audit(user.name, "refused", request.url.path, claim_id, type(exc).__name__)
            request.session["flash"] = {"kind": "error", "text": str(exc)}
        else:
            fields = ",".join(sorted({c.path for c in result.corrections}))
            ctx.store.audit(
                user.name,
                actions[0].kind,
                request.url.path,
                claim_id,
                f"version {result.version}; {fields}",
            )
            request.session["flash"] = {
                "kind": "ok",
                "text": f"Saved version {result.version}; status is now {result.claim.status}.",
            }
        finally:
            if ledger is not None:
                ledger.close()
        anchor = text_anchor(actions[0].path)
        return RedirectResponse(f"/claims/{claim_id}{anchor}", status_code=303)

    def text_anchor(path: str | None) -> str:
        if not path:
            return ""
        return "#row-" + "".join(c if c.isalnum() else "-" for c in path)

    # -- login -----------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", None, next=next if _safe(next) else "/")

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await checked_form(request)
        name = (text(form, "username") or "").strip()
        user = ctx.store.authenticate(name, text(form, "password") or "")
        target = text(form, "next") or "/"
        if user is None:
            ctx.store.audit(None, "login_failed", "/login")
            request.session["flash"] = {"kind": "error", "text": "Unknown user or wrong password."}
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        request.session.clear()
        request.session["user"] = user.name
        request.session["csrf"] = secrets.token_urlsafe(32)
        ctx.store.audit(user.name, "login", "/login")
        return RedirectResponse(target if _safe(target) else "/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        user = current_user(request)
        await checked_form(request)
        ctx.store.audit(user.name, "logout", "/logout")
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- queue and claim -------------------------------------------------------------------

    def all_items() -> tuple[list[Any], list[Any]]:
        claims = load_claims(out)
        mtimes = {
            c.claim_id: datetime.fromtimestamp(
                (out / "claims" / f"{c.claim_id}.json").stat().st_mtime, UTC
            )
            for c in claims
        }
        items = queue_items(
            claims,
            received_times(out, claims, settings.ledger_url),
            ctx.store.corrections(),
            datetime.now(UTC),
            settings.review.field_confidence,
            fallback_times=mtimes,
        )
        return claims, items

    @app.get("/", response_class=HTMLResponse)
    async def queue(
        request: Request,
        status: str = "",
        band: str = "",
        sort: str = "review_due",
        desc: int = 0,
    ) -> Response:
        user = current_user(request)
        _, items = all_items()
        shown = sort_queue(filter_queue(items, status or None, band or None), sort, bool(desc))
        ctx.store.audit(user.name, "view", "/", detail=f"queue rows={len(shown)}")
        return render(
            request,
            "queue.html",
            user,
            items=shown,
            counts=status_counts(items),
            overdue=sum(i.review_overdue or i.decision_overdue for i in items),
            status=status,
            band=band,
            sort=sort if sort in SORT_KEYS else "review_due",
            desc=bool(desc),
            statuses=STATUSES,
            now=datetime.now(UTC),
        )

    @app.get("/claims/{claim_id}", response_class=HTMLResponse)
    async def claim_page(request: Request, claim_id: str) -> Response:
        user = current_user(request)
        try:
            claim = load_claim(out, claim_id)
        except ReviewError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        ctx.store.audit(user.name, "view", f"/claims/{claim_id}", claim_id)
        _, items = all_items()
        item = next((i for i in items if i.claim_id == claim_id), None)
        view = claim_view(claim, settings.review)
        return render(
            request,
            "claim.html",
            user,
            claim=claim,
            view=view,
            item=item,
            has_images=inbox is not None,
            versions=list_versions(out, claim_id),
            corrections=ctx.store.corrections(claim_id),
            notes=ctx.store.notes(claim_id),
            label=ctx.store.labels().get(claim_id),
            can_edit=user.role in EDIT_ROLES,
            can_label=user.role in LABEL_ROLES,
            doc_types=list(view.doc_types),
            claim_types=list(view.claim_types),
        )

    @app.get("/claims/{claim_id}/pages/{file_index}/{page}.png")
    async def page_image(request: Request, claim_id: str, file_index: int, page: int) -> Response:
        user = current_user(request)
        if inbox is None:
            raise HTTPException(status_code=404, detail="the app was started without --inbox")
        try:
            claim = load_claim(out, claim_id)
            if not 0 <= file_index < len(claim.packet.files):
                raise ReviewError(f"claim {claim_id} has no file number {file_index}")
            png = page_png(inbox, claim, claim.packet.files[file_index], page, out / "review_cache")
        except (ReviewError, ClaimIntakeError) as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        ctx.store.audit(user.name, "view_page", request.url.path, claim_id, f"page {page}")
        return FileResponse(
            png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"}
        )

    @app.post("/claims/{claim_id}/edit")
    async def edit(request: Request, claim_id: str) -> Response:
        user = current_user(request, EDIT_ROLES)
        form = await checked_form(request)
        action = ReviewAction(kind="edit", path=text(form, "path"), value=text(form, "value"))
        return act(request, user, claim_id, [action])

    @app.post("/claims/{claim_id}/confirm")
    async def confirm(request: Request, claim_id: str) -> Response:
        user = current_user(request, EDIT_ROLES)
        form = await checked_form(request)
        return act(request, user, claim_id, [ReviewAction(kind="confirm", path=text(form, "path"))])

    @app.post("/claims/{claim_id}/doc_type")
    async def doc_type(request: Request, claim_id: str) -> Response:
        user = current_user(request, EDIT_ROLES)
        form = await checked_form(request)
        index = text(form, "document") or ""
        action = ReviewAction(
            kind="doc_type", path=f"documents[{index}].doc_type", value=text(form, "doc_type")
        )
        return act(request, user, claim_id, [action])

    @app.post("/claims/{claim_id}/approve")
    async def approve(request: Request, claim_id: str) -> Response:
        user = current_user(request, EDIT_ROLES)
        await checked_form(request)
        return act(request, user, claim_id, [ReviewAction(kind="approve")])

    @app.post("/claims/{claim_id}/send_back")
    async def send_back(request: Request, claim_id: str) -> Response:
        user = current_user(request, EDIT_ROLES)
        form = await checked_form(request)
        return act(
            request, user, claim_id, [ReviewAction(kind="send_back", notice=text(form, "notice"))]
        )

    @app.post("/claims/{claim_id}/note")
    async def note(request: Request, claim_id: str) -> Response:
        user = current_user(request, (*EDIT_ROLES, "analyst"))
        form = await checked_form(request)
        try:
            load_claim(out, claim_id)
            ctx.store.add_note(claim_id, text(form, "text") or "", user.name)
        except ReviewError as exc:
            request.session["flash"] = {"kind": "error", "text": str(exc)}
        else:
            ctx.store.audit(user.name, "note", request.url.path, claim_id)
        return RedirectResponse(f"/claims/{claim_id}#notes", status_code=303)

    @app.post("/claims/{claim_id}/label")
    async def label(request: Request, claim_id: str) -> Response:
        user = current_user(request, LABEL_ROLES)
        form = await checked_form(request)
        try:
            load_claim(out, claim_id)
            ctx.store.set_label(claim_id, int(text(form, "label") or "-1"), user.name)
        except (ReviewError, ValueError) as exc:
            request.session["flash"] = {"kind": "error", "text": str(exc)}
        else:
            ctx.store.audit(user.name, "label", request.url.path, claim_id)
            request.session["flash"] = {"kind": "ok", "text": "Fraud label saved."}
        return RedirectResponse(f"/claims/{claim_id}#fraud", status_code=303)

    # -- dashboard, exports, admin ---------------------------------------------------------

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request) -> Response:
        user = current_user(request)
        claims, items = all_items()
        ctx.store.audit(user.name, "view", "/dashboard")
        return render(request, "dashboard.html", user, stats=dashboard_stats(claims, items))

    @app.get("/exports/labels.csv")
    async def labels_csv(request: Request) -> Response:
        user = current_user(request, LABEL_ROLES)
        ctx.store.audit(user.name, "export", "/exports/labels.csv", detail="fraud labels")
        return PlainTextResponse(
            ctx.store.labels_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
        )

    @app.get("/exports/feedback.jsonl")
    async def feedback(request: Request) -> Response:
        user = current_user(request, EDIT_ROLES)
        ctx.store.audit(user.name, "export", "/exports/feedback.jsonl", detail="corrections")
        return PlainTextResponse(
            ctx.store.feedback_jsonl(),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"'},
        )

    @app.get("/admin/users", response_class=HTMLResponse)
    async def users_page(request: Request) -> Response:
        user = current_user(request, ADMIN_ROLES)
        ctx.store.audit(user.name, "view", "/admin/users")
        return render(
            request,
            "users.html",
            user,
            users=ctx.store.users(),
            roles=ROLES,
            audit=ctx.store.audit_log(limit=200),
        )

    @app.post("/admin/users")
    async def add_user(request: Request) -> Response:
        user = current_user(request, ADMIN_ROLES)
        form = await checked_form(request)
        try:
            added = ctx.store.add_user(
                text(form, "username") or "", text(form, "role") or "", text(form, "password") or ""
            )
        except ReviewError as exc:
            request.session["flash"] = {"kind": "error", "text": str(exc)}
        else:
            ctx.store.audit(
                user.name, "add_user", "/admin/users", detail=f"{added.name} as {added.role}"
            )
            request.session["flash"] = {"kind": "ok", "text": f"User {added.name} saved."}
        return RedirectResponse("/admin/users", status_code=303)

    return app


def _safe(target: str) -> bool:
    """Only local paths: a `next` pointing elsewhere would be an open redirect."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


def serve(
    out: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    inbox: Path | None = None,
    ledger_url: str | None = None,
) -> None:
    """Run the review app with uvicorn until interrupted; `ledger_url` wins over the settings'."""
    import uvicorn

    config_path = os.environ.get("CLAIM_INTAKE_CONFIG")
    settings = load_settings(Path(config_path) if config_path else None)
    if ledger_url:
        settings = settings.model_copy(update={"ledger_url": ledger_url})
    app = create_app(out, inbox=inbox, settings=settings)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
