"""The OpenAPI document tells the truth and no input gets a 500: schemathesis drives every
/api/v1 operation of the real app (a uvicorn server on loopback, SQLite and PostgreSQL) as
the admin, with a fixed seed and a fixed number of examples per operation, then walks the
links between operations statefully. Any 5xx, undocumented status, wrong content type or
response that breaks its schema fails the run."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from frontdesk.app import create_app
from frontdesk.auth import repository as auth_repository
from frontdesk.auth import service as auth
from frontdesk.config import Settings
from frontdesk.kit import uow
from frontdesk.kit.security import sign
from frontdesk.runtime import Runtime
from tests.conftest import Cast, _truncate_pg, seed_cast, serve_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Cases per operation and database (valid and invalid ones), drawn from a fixed seed. About
# 40 operations x 2 databases: the module takes about two minutes on two idle cores.
EXAMPLES = 50
SEED = 20261205
# Revoking the token the run is made with would leave nothing to test after it.
# (Revoking one's tokens by id is tested in tests/auth/test_people.py.)
SKIPPED = {("DELETE", "/api/v1/me/token"), ("DELETE", "/api/v1/me/tokens/{token_id}")}
# Left out of the stateful workflows only (each is still checked alone above), because a
# derandomized state machine must see the same answers when it replays an example, and these
# answer from state outside the example:
# - Test connection calls the inbox's provider (checked against fake providers in
#   tests/channels/*/test_check.py);
# - the public knowledge-base routes count requests per client in the process (a limit that
#   earlier examples used up answers 429);
# - routing queues: their names are unique in a database that outlives each example, so a
#   replayed create can answer 409 and leave the bundle of queue ids its links draw from empty
#   (hypothesis: FlakyStrategyDefinition);
# - the staffing report reads a window that ends at the current hour, over conversations
#   earlier examples made.
NOT_IN_WORKFLOWS = {
    ("GET", "/api/v1/reports/staffing"),
    ("POST", "/api/v1/inboxes/{inbox_id}/check"),
    ("GET", "/api/v1/public/kb/autocomplete"),
    ("POST", "/api/v1/public/kb/articles/{article_id}/feedback"),
    # A bot turned on makes each later customer message a background job whose answer lands
    # at a time of its own: the workflow could not replay the same states (each operation is
    # still checked against its schema above).
    ("PUT", "/api/v1/inboxes/{inbox_id}/bot"),
    ("GET", "/api/v1/conversations/{conversation_id}/handoff"),
}
# Custom customer attributes have unique keys and invited agents unique e-mail addresses:
# like routing queues, a replayed create answers 409 (each is still checked alone above).
NOT_IN_WORKFLOWS |= {("POST", "/api/v1/agents/invitations")}
NOT_IN_WORKFLOWS_UNDER = ("/api/v1/routing/queues", "/api/v1/customer-attributes")


@dataclass
class Api:
    base_url: str
    cast: Cast
    runtime: Runtime
    loop: asyncio.AbstractEventLoop
    token: str = ""

    def as_admin(self) -> dict[str, str]:
        """Ada's headers, after undoing what earlier cases did to her (deactivated, demoted,
        token revoked): each operation starts as the admin."""
        self.token = asyncio.run_coroutine_threadsafe(self._restore_ada(), self.loop).result(30)
        return {"Authorization": f"Bearer {self.token}"}

    async def _restore_ada(self) -> str:
        async with self.runtime.db.session() as session:
            ada = await auth_repository.get_agent(session, self.cast.ada.id)
            assert ada is not None
            ada.active, ada.role = True, "admin"
            await session.flush()
            token = self.token or self.cast.ada.token
            if await auth.agent_for_token(session, token) is None:
                token = await auth.issue_token(session, ada)
            await uow.commit(session)
        return token


class ServerThread:
    """The app on a loopback port, in a thread with its own event loop (schemathesis calls
    it synchronously from the test)."""

    def __init__(self, app_settings: Settings) -> None:
        self.settings = app_settings
        self.ready = threading.Event()
        self.api: Api | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.stop_event: asyncio.Event | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        runtime = Runtime.build(self.settings, with_runner=False)
        await runtime.start()
        try:
            cast = await seed_cast(runtime)
            self.stop_event = asyncio.Event()
            async with serve_app(create_app(self.settings, runtime=runtime)) as address:
                self.api = Api(f"http://{address}", cast, runtime, asyncio.get_running_loop())
                self.ready.set()
                await self.stop_event.wait()
        finally:
            await runtime.stop()

    def __enter__(self) -> Api:
        self.thread.start()
        self.ready.wait(60)
        if self.error is not None:
            raise self.error
        assert self.api is not None
        return self.api

    def __exit__(self, *exc: object) -> None:
        assert self.api is not None and self.stop_event is not None
        self.api.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


def _history(api: Api) -> None:
    """Something for every operation to find: conversations on both API inboxes, an agent
    reply, a note that mentions Ada, an upload, and an e-mail and a webchat inbox."""
    with httpx.Client(base_url=api.base_url, headers=api.cast.ada.headers) as http:
        for n, (inbox, address) in enumerate(
            [
                (api.cast.website, "layla@example.com"),
                (api.cast.website, "+12025550143"),
                (api.cast.app, "omar@example.org"),
            ]
        ):
            body = json.dumps(
                {"external_id": f"seed-{n}", "from": {"address": address}, "text": "hello %_"}
            ).encode()
            stored = http.post(
                f"/api/v1/inboxes/{inbox.id}/inbound",
                content=body,
                headers={
                    "x-frontdesk-signature": sign(inbox.secret, body),
                    "content-type": "application/json",
                },
            )
            assert stored.status_code == 202, stored.text
        conversation = stored.json()["conversation_id"]
        for payload in ({"text": "we are on it"}, {"text": "@ada have a look", "private": True}):
            sent = http.post(f"/api/v1/conversations/{conversation}/messages", json=payload)
            assert sent.status_code == 201, sent.text
        upload = http.post(
            f"/api/v1/conversations/{conversation}/uploads",
            files={"file": ("note.txt", b"hello", "text/plain")},
        )
        assert upload.status_code == 201, upload.text
        for inbox in (
            {
                "channel": "email",
                "name": "Mail",
                "address": "help@frontdesk.test",
                "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
            },
            {"channel": "webchat", "name": "Chat"},
        ):
            created = http.post("/api/v1/inboxes", json=inbox)
            assert created.status_code == 201, created.text


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp(f"openapi-{request.param}")
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, home / "frontdesk.db")
        url = f"sqlite+aiosqlite:///{home / 'frontdesk.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        _truncate_pg(url)
    app_settings = Settings(
        env="development",
        data_dir=home / "data",
        database_url=url,
        allow_private_webhooks=True,
    )
    with ServerThread(app_settings) as running:
        _history(running)
        yield running


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    document = httpx.get(f"{api.base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=api.base_url)
    schema.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    )
    return schema.include(path_regex="^/api/v1/").exclude(
        func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in SKIPPED
    )


def test_every_operation_answers_as_documented(api: Api, api_schema: Any) -> None:
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @seed(SEED)
        @given(case=cases)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: schemathesis.Case, headers: dict[str, str]) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run(headers=api.as_admin())
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_links_between_operations_hold(api: Api, api_schema: Any) -> None:
    workflows = api_schema.exclude(
        func=lambda ctx: (
            (ctx.operation.method.upper(), ctx.operation.path) in NOT_IN_WORKFLOWS
            or ctx.operation.path.startswith(NOT_IN_WORKFLOWS_UNDER)
        )
    )

    class Workflow(workflows.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.headers = api.as_admin()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {**super().get_call_kwargs(case), "headers": self.headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            # Not positive_data_acceptance: a schema cannot say every rule of the domain
            # (a well-formed e-mail, a reachable webhook), and those answer 422.
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
