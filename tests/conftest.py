"""Shared fixtures: every database test runs on SQLite and on PostgreSQL (never skipped)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import event as sa_event

from frontdesk.app import create_app
from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate, TeamCreate
from frontdesk.config import Settings
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.kit.security import sign
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

# The hashing embedder (deterministic, microseconds) in every test; the tests that load the
# real model (tests/knowledge/test_model.py) name it.
os.environ.setdefault("FRONTDESK_KB_EMBEDDER", "hashing")


def _per_worker(database: str, redis_url: str) -> tuple[str, str]:
    """Under pytest-xdist (`-n 2`, see pyproject) worker k (PYTEST_XDIST_WORKER=gwk) gets its
    own PostgreSQL database, `<name>_gwk`, and Redis database number N+k (mod 16) after the
    configured N. Everything else a test starts is per worker already: tmp_path, free ports,
    its own Dovecot and Chromium; bus channels carry a per-test prefix."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return database, redis_url
    index = int(worker.removeprefix("gw"))
    server, _, number = redis_url.rpartition("/")
    return f"{database}_{worker}", f"{server}/{(int(number or 0) + index) % 16}"


PG_SERVER = os.environ.get("FRONTDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE, REDIS_URL = _per_worker(
    os.environ.get("FRONTDESK_TEST_PG_DB", "frontdesk_test"),
    os.environ.get("FRONTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
)
PG_URL = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{PG_DATABASE}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg_database() -> str:
    """A fresh PostgreSQL database, migrated once; tests empty it between runs."""
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (PG_DATABASE,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    upgrade(PG_URL)
    return PG_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "frontdesk.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


# Empties every table between tests and restarts the sequences that moved (ids start at 1
# again, as TRUNCATE ... RESTART IDENTITY did). DELETE on tables holding a test's few rows
# takes ~20 ms where TRUNCATE of all ~30 tables took 300-500 ms (it rewrites every table and
# index file), which was the biggest fixed cost of each PostgreSQL test. Foreign-key triggers
# are off for the statement (session_replication_role), so the order does not matter.
EMPTY_PG = """
DO $$
DECLARE name text;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR name IN SELECT tablename FROM pg_tables
              WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM %I', name);
  END LOOP;
  FOR name IN SELECT sequencename FROM pg_sequences
              WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
    EXECUTE format('ALTER SEQUENCE %I RESTART', name);
  END LOOP;
END $$
"""


def _truncate_pg(url: str) -> None:
    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True
    ) as conn:
        conn.execute(EMPTY_PG)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "frontdesk.db"
        shutil.copy(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="development",
        data_dir=tmp_path / "data",
        database_url=db_url,
        allow_private_webhooks=True,
        job_poll_seconds=0.05,
        job_backoff_base_seconds=0.01,
        job_backoff_max_seconds=0.05,
        job_lease_seconds=5,
        job_max_attempts=3,
        # argon2id at its lowest cost (~1 ms, not ~150 ms, per hash): the cast alone hashes four
        # passwords per test. Tests of the hashing cost itself raise it again (web/test_views.py).
        password_time_cost=1,
        password_memory_kib=1024,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(settings, with_runner=False)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture
def app(settings: Settings, runtime: Runtime):  # type: ignore[no-untyped-def]
    return create_app(settings, runtime=runtime)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@dataclass
class Person:
    id: int
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class InboxInfo:
    id: int
    secret: str


@dataclass
class Cast:
    """The recurring people of our tests: Ada (admin), Sara (supervisor), Alice (Support team,
    serves the website inbox), Bob (Billing team, serves the app inbox)."""

    ada: Person
    sara: Person
    alice: Person
    bob: Person
    website: InboxInfo
    app: InboxInfo
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
async def cast(runtime: Runtime) -> Cast:
    return await seed_cast(runtime)


async def seed_cast(runtime: Runtime) -> Cast:
    """Ada, Sara, Alice and Bob, the Support and Billing teams and their two API inboxes."""
    people: dict[str, Person] = {}
    async with runtime.db.session() as session:
        for key, role in (
            ("ada", "admin"),
            ("sara", "supervisor"),
            ("alice", "agent"),
            ("bob", "agent"),
        ):
            password = f"{key}-password-1"
            agent = await auth.create_agent(
                session,
                AgentCreate(
                    email=f"{key}@frontdesk.test", name=key.title(), password=password, role=role
                ),
                cost=runtime.settings.password_cost,
            )
            token = await auth.issue_token(session, agent)
            people[key] = Person(agent.id, agent.email, password, token)
        support = await auth.create_team(
            session, TeamCreate(name="Support", agent_ids=[people["alice"].id])
        )
        billing = await auth.create_team(
            session, TeamCreate(name="Billing", agent_ids=[people["bob"].id])
        )
        website = await inboxes.create_inbox(
            session,
            InboxCreate(channel="api", name="Website", team_ids=[support.id]),
            runtime.settings,
        )
        app_inbox = await inboxes.create_inbox(
            session, InboxCreate(channel="api", name="App", team_ids=[billing.id]), runtime.settings
        )
        await uow.commit(session)
    return Cast(
        ada=people["ada"],
        sara=people["sara"],
        alice=people["alice"],
        bob=people["bob"],
        website=InboxInfo(website.id, website.secret),
        app=InboxInfo(app_inbox.id, app_inbox.secret),
    )


def inbound_payload(
    external_id: str, address: str, text: str = "hello", **extra: Any
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "from": {"address": address, **extra.pop("sender", {})},
        "text": text,
        **extra,
    }


async def post_inbound(
    client: httpx.AsyncClient,
    inbox: InboxInfo,
    payload: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post(
        f"/api/v1/inboxes/{inbox.id}/inbound",
        content=body,
        headers={
            "X-Frontdesk-Signature": sign(secret or inbox.secret, body),
            "content-type": "application/json",
        },
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def run_jobs(runtime: Runtime, *, rounds: int = 50) -> int:
    """Run due jobs in this process until none is left (deterministic, no background task)."""
    from frontdesk.kit.jobs import JobRunner

    runner = JobRunner(runtime.db, runtime.settings, name="test-runner")
    done = 0
    for _ in range(rounds):
        claimed = await runner.claim(50)
        if not claimed:
            return done
        for job in claimed:
            await runner.execute(job)
            done += 1
    return done


@contextlib.contextmanager
def statements_containing(runtime: Runtime, needle: str) -> Iterator[list[str]]:
    """The SQL statements run on the runtime's engine inside the block that contain `needle`."""
    found: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if needle in statement:
            found.append(statement)

    engines = [engine.sync_engine for engine in runtime.db.engines]
    for engine in engines:
        sa_event.listen(engine, "before_cursor_execute", note)
    try:
        yield found
    finally:
        for engine in engines:
            sa_event.remove(engine, "before_cursor_execute", note)


@contextlib.asynccontextmanager
async def serve_app(asgi_app: Any, port: int | None = None, **options: Any) -> AsyncIterator[str]:
    """Run an ASGI app on a real loopback port inside the test's event loop (`options`: more
    uvicorn settings, e.g. cli.WS_OPTIONS as `frontdesk serve` uses them)."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            asgi_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **options
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def live_server(app) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    async with serve_app(app) as address:
        yield address


class WebhookReceiver:
    """A loopback integration endpoint: verifies signatures and processes each
    Idempotency-Key once (repeats are answered as already done, as Stripe does)."""

    def __init__(
        self,
        secret_for: dict[int, str] | None = None,
        delay: float = 0.0,
        fail_first: int = 0,
        status: int = 200,
    ) -> None:
        self.processed: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.bad_signatures = 0
        self.secrets: list[str] = list((secret_for or {}).values())
        self.delay = delay
        self.fail_first = fail_first
        self.status = status

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The sender died mid-request (a worker killed with -9): the body is cut
                # short, and like any server we process nothing of it.
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        key = headers.get("idempotency-key", "")
        self.requests.append(key)
        status = self.status
        if self.secrets and not any(
            sign(secret, body) == headers.get("x-frontdesk-signature") for secret in self.secrets
        ):
            self.bad_signatures += 1
            status = 401
        elif self.fail_first > 0:
            self.fail_first -= 1
            status = 503
        elif status < 300 and key not in self.processed:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.processed[key] = json.loads(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture
def artifacts() -> Iterator[Path]:
    path = Path(__file__).resolve().parents[1] / "test-artifacts"
    path.mkdir(exist_ok=True)
    yield path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a failure: nothing may pass by not running."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("CI") and reporter is not None and reporter.stats.get("skipped"):
        reporter.write_line(
            f"CI: {len(reporter.stats['skipped'])} skipped test(s) count as failures", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
