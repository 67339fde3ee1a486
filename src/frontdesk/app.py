"""create_app(settings) → the ASGI app; the lifespan starts the process runtime."""

from __future__ import annotations

import copy
import hmac
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import frontdesk.handlers  # noqa: F401  (every job handler and installed channel)
from frontdesk.analytics.metrics import DB_COLLECTORS, REGISTRY, REQUEST_SECONDS, REQUESTS
from frontdesk.analytics.staffing_views import router as staffing_router
from frontdesk.analytics.views import router as reports_router
from frontdesk.auth.views import router as auth_router
from frontdesk.bot.views import router as bot_router
from frontdesk.config import Settings
from frontdesk.conversations.views import router as conversations_router
from frontdesk.customers.views import router as customers_router
from frontdesk.demo.mail import MailSink
from frontdesk.demo.views import router as demo_router
from frontdesk.deps import get_admin, get_current_agent
from frontdesk.desk.views import router as desk_router
from frontdesk.desk.views import workspace_router
from frontdesk.inboxes.port import SocketEndpoint, channel_plugins
from frontdesk.inboxes.views import router as inboxes_router
from frontdesk.kit import gcfreeze, openapi, pressure
from frontdesk.kit.errors import (
    FrontdeskError,
    Invalid,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    error_body,
    invalid_input,
)
from frontdesk.kit.jobs import count_by_state
from frontdesk.kit.security import MAX_JSON_DEPTH, NestingGuard
from frontdesk.knowledge.views import public_router as knowledge_public_router
from frontdesk.knowledge.views import router as knowledge_router
from frontdesk.realtime.views import router as realtime_router
from frontdesk.routing.views import router as routing_router
from frontdesk.runtime import Runtime
from frontdesk.sentiment.views import router as sentiment_router
from frontdesk.sla.views import router as sla_router
from frontdesk.surveys.views import public_router as surveys_public_router
from frontdesk.surveys.views import router as surveys_router
from frontdesk.web import error_pages
from frontdesk.web.views import LoginRequired
from frontdesk.web.views import router as web_router

log = logging.getLogger(__name__)


class FrontdeskApp(FastAPI):
    """Channels' hot sockets (the widget's `/widget/ws`) go straight to their endpoints;
    everything else through the middleware stack and the router. None of the middleware acts
    on websockets, and each open socket would otherwise hold the whole chain of coroutine
    frames."""

    sockets: dict[str, SocketEndpoint]  # set by create_app from the channels' plugins
    # The channels' provider webhooks (under WEBHOOKS), set by create_app.
    provider_webhooks: list[BaseRoute]
    # The channels' signed inbound API route(s) with their full path, set by create_app.
    provider_inbound: list[BaseRoute]
    # The router of every /api/v1 route (included under API), set by create_app.
    api_router: APIRouter

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        # Innermost, below the exception handlers: the router, or the dispatch in front of it.
        node: Any = stack
        while node.app is not self.router:
            node = node.app
        node.app = Dispatch(
            self.router, self.api_router, self.provider_webhooks, self.provider_inbound
        )
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            endpoint = self.sockets.get(_route_path(scope))
            if endpoint is not None:
                scope["app"] = self
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


# The paths of the providers' webhooks (every channel's: /webhooks/<channel>/{inbox_id}...).
WEBHOOKS = "/webhooks/"
# The JSON API's paths: every route of create_app's `api` router starts with it.
API = "/api/v1"


class Dispatch:
    """Starlette's router tries its routes in order until one matches, and the route table
    opens with the JSON API (FastAPI matches its included router's ~300 routes one by one:
    0.5-1.7 ms of CPU before any web page, webhook or widget route is reached). An API route
    cannot match a path that does not start with API (no path parameter comes before that
    literal prefix), so such a request goes to `pages`: a copy of the router whose table
    lacks the API's entries and is otherwise the same, in the same order. It answers as the
    router would, the same route objects, the 404, 405 and slash redirects included; the
    scope's router stays the real one (url_for reaches every route). The providers' webhooks
    (a provider calls them on every step of every call or message, against its own timeout)
    are matched among themselves first; what they do not take goes on as before. Every API
    path goes to the router itself."""

    def __init__(
        self,
        router: APIRouter,
        api: APIRouter,
        webhooks: list[BaseRoute],
        inbound: list[BaseRoute],
    ) -> None:
        self.router = router
        self.api = api
        self.webhooks = webhooks
        self.inbound = inbound
        self._pages = router
        self._seen: tuple[list[BaseRoute], int] | None = None  # the table _pages was made of

    def pages(self) -> APIRouter:
        """The router without the API's entries (made again if the route table changed)."""
        routes = self.router.routes
        if self._seen is None or self._seen[0] is not routes or self._seen[1] != len(routes):
            pages = copy.copy(self.router)
            pages.routes = [route for route in routes if not self._of_api(route)]
            self._pages, self._seen = pages, (routes, len(routes))
        return self._pages

    def _of_api(self, route: BaseRoute) -> bool:
        """The API's included router (FastAPI keeps it as one entry), or a route of it."""
        if getattr(route, "original_router", None) is self.api:
            return True
        path = getattr(route, "path", None)
        return isinstance(path, str) and path.startswith(API)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.router(scope, receive, send)
            return
        path = _route_path(scope)
        http = scope["type"] == "http"
        if path.startswith(API):
            if not (http and await self._take(self.inbound, scope, receive, send)):
                await self.router(scope, receive, send)
            return
        if (
            http
            and path.startswith(WEBHOOKS)
            and await self._take(self.webhooks, scope, receive, send)
        ):
            return
        scope.setdefault("router", self.router)
        await self.pages().app(scope, receive, send)

    async def _take(
        self, routes: list[BaseRoute], scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Handle the request with the first of `routes` that fully matches it (False: none)."""
        for route in routes:
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                scope.setdefault("router", self.router)
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return True
        return False


def _webhook_routes(routers: list[APIRouter]) -> list[BaseRoute]:
    """The webhook routes of these routers, in order (they are included without a prefix)."""
    return [
        route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.path.startswith(WEBHOOKS)
    ]


def _inbound_routes(routers: list[APIRouter]) -> list[BaseRoute]:
    """The channels' API routes that solve no dependencies (the shared signed inbound route,
    channels/views.py: every API-channel message comes through it, authenticated by its
    signature in the endpoint), as routes of their own with the full path: matched ahead of
    the JSON API's ~300 routes, they answer as the included ones do."""
    return [
        APIRoute(
            API + route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            response_model=route.response_model,
            status_code=route.status_code,
            responses=route.responses,
            name=route.name,
            include_in_schema=False,
        )
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and not route.dependant.dependencies
    ]


def _route_path(scope: Scope) -> str:
    """The path below the mount point (uvicorn puts --root-path in front of it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def create_app(
    settings: Settings, *, runtime: Runtime | None = None, with_runner: bool | None = None
) -> FastAPI:
    own_runtime = runtime is None
    rt = runtime or Runtime.build(
        settings, with_runner=settings.embedded_worker if with_runner is None else with_runner
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if own_runtime:
            await rt.start()
        if settings.gc_freeze_seconds > 0:
            # The app, the runtime and their modules are loaded: out of the collector's way.
            gcfreeze.settle()
        # `frontdesk demo`: the outbound mail sink its e-mail inbox relays through.
        sink = (
            MailSink(settings)
            if settings.env == "development" and settings.demo_mail_port
            else None
        )
        try:
            if sink is not None:
                await sink.start()
            yield
        finally:
            if sink is not None:
                await sink.stop()
            if own_runtime:
                await rt.stop()

    app = FrontdeskApp(
        title="Frontdesk",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # /docs is web.views.api_docs: Swagger UI from the package, offline
        redoc_url=None,
    )
    app.state.runtime = rt
    app.sockets = {}
    app.provider_webhooks = []
    app.provider_inbound = []
    app.api_router = APIRouter()
    _install_error_handlers(app)
    openapi.install(app, authenticated=get_current_agent, admin=get_admin)
    plugins = channel_plugins()
    api = APIRouter(prefix=API)
    for router in (
        auth_router,
        inboxes_router,
        customers_router,
        conversations_router,
        desk_router,
        workspace_router,
        knowledge_router,
        knowledge_public_router,
        realtime_router,
        routing_router,
        reports_router,
        staffing_router,
        sla_router,
        surveys_router,
        bot_router,
        sentiment_router,
    ):
        api.include_router(router)
    for plugin in plugins:
        for router in plugin.api_routers:
            api.include_router(router)
    app.include_router(api)
    app.api_router = api
    app.include_router(_ops_router())
    app.include_router(web_router)
    app.include_router(surveys_public_router)
    app.include_router(demo_router)  # every demo route answers 404 outside development
    for plugin in plugins:
        for router in plugin.routers:
            app.include_router(router)
        app.sockets.update(plugin.sockets)
    app.provider_webhooks = _webhook_routes(
        [router for plugin in plugins for router in plugin.routers]
    )
    app.provider_inbound = _inbound_routes(
        [router for plugin in plugins for router in plugin.api_routers]
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    if settings.https:
        app.add_middleware(StrictTransportMiddleware)
    return app


def app_from_environment() -> FastAPI:
    """The ASGI app configured from FRONTDESK_* variables (uvicorn factory for `serve`)."""
    return create_app(Settings())


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FrontdeskError)
    async def domain_error(request: Request, exc: FrontdeskError) -> Response:
        if error_pages.wants_page(request, exc.status):
            return await error_pages.error_page(request, exc.status)
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(invalid_input(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if error_pages.wants_page(request, exc.status_code):
            return await error_pages.error_page(request, exc.status_code)
        if isinstance(exc.__cause__, FrontdeskError):
            # Raised while FastAPI read the body (size or nesting limit): FastAPI wraps
            # whatever the body reader raises in a 400, which would hide the real answer.
            return _error_response(exc.__cause__)
        if exc.status_code == 400:
            # Starlette and FastAPI answer 400 for a body they cannot read (not UTF-8, broken
            # multipart): as malformed as broken JSON, so the same 422 "invalid".
            message = str(exc.detail)
            return _error_response(Invalid(message, details=[{"loc": ["body"], "msg": message}]))
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error"), status_code=500)


def _error_response(exc: FrontdeskError) -> JSONResponse:
    headers = (
        {"retry-after": str(math.ceil(exc.retry_after))}
        if isinstance(exc, TooManyRequests)
        else None
    )
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers
    )


def _ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        try:
            async with runtime.db.session() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse(
                error_body("not_ready", f"database unreachable: {exc}"), status_code=503
            )
        return JSONResponse({"status": "ready"})

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> PlainTextResponse:
        runtime: Runtime = request.app.state.runtime
        wanted = runtime.settings.metrics_token
        if wanted and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {wanted}".encode()
        ):
            raise Unauthorized("metrics need the FRONTDESK_METRICS_TOKEN", code="unauthenticated")
        async with runtime.db.session() as session:
            counts = await count_by_state(session)
            extra = [line for collect in DB_COLLECTORS for line in await collect(session)]
        lines = [
            "# HELP frontdesk_jobs Jobs in the database by state (all processes)",
            "# TYPE frontdesk_jobs gauge",
            *(f'frontdesk_jobs{{state="{state}"}} {n}' for state, n in counts.items()),
            *extra,
        ]
        body = generate_latest(REGISTRY).decode() + "\n".join(lines) + "\n"
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4")

    return router


class BodyLimitMiddleware:
    """Refuse request bodies over the limit before the app reads them (413, uniform body),
    JSON bodies that nest deeper than MAX_JSON_DEPTH while they arrive, and URLs with a NUL
    (422): every route, the unauthenticated widget ones included, is reached through here."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            # No column can hold a NUL (PostgreSQL text), so no id, filter or name has one.
            refused = Invalid("a NUL character is not allowed in the URL")
            await _error_response(refused)(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            response = JSONResponse(
                error_body("too_large", f"request body is over {self.max_bytes} bytes"),
                status_code=413,
            )
            await response(scope, receive, send)
            return
        seen = 0
        guard = NestingGuard(MAX_JSON_DEPTH) if _may_be_json(scope) else None

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_bytes:
                    raise TooLarge(f"request body is over {self.max_bytes} bytes")
                if guard is not None:
                    guard.feed(chunk)
            return message

        await self.app(scope, limited, send)


class StrictTransportMiddleware:
    """HSTS on every HTTP response when BASE_URL is https (browsers then refuse plain http)."""

    HEADER = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.HEADER]
            await send(message)

        await self.app(scope, receive, with_header)


# Bodies read as JSON: FastAPI parses a body without a content type as JSON, and the widget
# sends its JSON as text/plain (a "simple" cross-origin request).
_JSON_TYPES = (b"application/json", b"text/plain")


def _may_be_json(scope: Scope) -> bool:
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
    media = content_type.split(b";")[0].strip()
    return not media or media in _JSON_TYPES or media.endswith(b"+json")


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            with pressure.serving():  # background jobs give way meanwhile (kit.pressure)
                await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)
