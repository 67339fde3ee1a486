"""GET /api/v1/reports/staffing: measured arrivals and handle times, who may see it, CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import httpx
import time_machine

from frontdesk.analytics.staffing import staffing
from frontdesk.conversations.models import Conversation
from frontdesk.customers.models import Customer
from frontdesk.db import utcnow
from frontdesk.kit import uow
from frontdesk.routing.models import RoutingTask
from frontdesk.runtime import Runtime
from tests.conftest import Cast, run_jobs

URL = "/api/v1/reports/staffing"


async def history(runtime: Runtime, cast: Cast, *, at: datetime, count: int, handle: int) -> None:
    """`count` conversations on the Website (api) inbox started at `at`, each worked for
    `handle` seconds; one more from two months ago, outside every window."""
    async with runtime.db.session() as session:
        customer = Customer(name="Layla")
        session.add(customer)
        await session.flush()
        for n, created in enumerate([at] * count + [at - timedelta(weeks=9)]):
            conversation = Conversation(
                inbox_id=cast.website.id, customer_id=customer.id, status="resolved",
                created_at=created, updated_at=created,
            )  # fmt: skip
            session.add(conversation)
            await session.flush()
            accepted = created + timedelta(seconds=30 + n)
            session.add(
                RoutingTask(
                    kind="conversation", type="conversation", channel="api",
                    conversation_id=conversation.id, customer_id=customer.id,
                    inbox_id=cast.website.id, status="completed", attributes={}, rejected_by=[],
                    created_at=created, accepted_at=accepted,
                    completed_at=accepted + timedelta(seconds=handle),
                )
            )  # fmt: skip
        await uow.commit(session)


def slot(at: datetime) -> int:
    return at.weekday() * 24 + at.hour


class TestStaffingReport:
    async def test_plan_from_measured_history(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        at = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
        await history(runtime, cast, at=at, count=6, handle=180)
        answer = await client.get(
            URL, params={"weeks": 1, "shrinkage": 0.25}, headers=cast.sara.headers
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["channels"] == [
            {"channel": "api", "contacts": 6, "aht": 180.0, "aht_source": "measured",
             "handled": 6, "concurrency": 1}
        ]  # fmt: skip
        assert len(body["intervals"]) == 168
        busy = body["intervals"][slot(at)]
        assert (busy["day"], busy["hour"]) == (at.weekday(), at.hour)
        assert busy["arrivals_per_hour"] == 6
        # 6 an hour x 180 s = 0.3 erlangs: one agent answers only 72 % within 20 s, two
        # answer 97 %; rostered: ceil(2 / 0.75) = 3.
        assert busy["on_floor"] == 2 and busy["agents"] == 3
        assert (
            busy["on_floor"]
            == staffing(arrivals_per_hour=6, aht=180, threshold=20, target=0.8).agents
        )
        assert busy["service_level"] > 0.8
        assert sum(i["arrivals_per_hour"] for i in body["intervals"]) == 6
        assert body["peak_agents"] == 3

    async def test_weeks_average_the_rate(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        at = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
        await history(runtime, cast, at=at, count=6, handle=180)
        answer = await client.get(URL, params={"weeks": 3}, headers=cast.ada.headers)
        assert answer.json()["intervals"][slot(at)]["arrivals_per_hour"] == 2

    async def test_csv(self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast) -> None:
        at = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
        await history(runtime, cast, at=at, count=6, handle=180)
        answer = await client.get(
            URL, params={"weeks": 1, "format": "csv", "shrinkage": 0}, headers=cast.ada.headers
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(rows) == 168
        busy = rows[slot(at)]
        assert busy["agents"] == "2" and busy["agents_api"] == "2"
        assert float(busy["arrivals_per_hour"]) == 6

    async def test_agents_may_not_see_it(self, client: httpx.AsyncClient, cast: Cast) -> None:
        answer = await client.get(URL, headers=cast.alice.headers)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "supervisor_only"
        assert (await client.get(URL)).status_code == 401

    async def test_bad_parameters_are_refused(self, client: httpx.AsyncClient, cast: Cast) -> None:
        bad = ({"target": 1.5}, {"weeks": 0}, {"shrinkage": 0.95}, {"surprise": 1},
               {"patience": 0}, {"threshold": 7200}, {"aht": 0.5})  # fmt: skip
        for params in bad:
            answer = await client.get(URL, params=params, headers=cast.ada.headers)
            assert answer.status_code == 422, params
            assert answer.json()["error"]["code"] == "invalid"

    async def test_an_empty_database_needs_nobody(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        body = (await client.get(URL, headers=cast.ada.headers)).json()
        assert body["channels"] == [] and body["peak_agents"] == 0


class TestWorkAssignedByHand:
    async def test_counts_as_handled(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        """A conversation an admin assigns by hand while its task waits is handled work: its
        handle time is measured like routed work (it used to vanish as a canceled task)."""
        from tests.routing.test_views import customer_writes, set_worker, setup_support

        await setup_support(client, cast)
        await set_worker(client, cast, cast.alice.id, presence="away")
        conversation = await customer_writes(client, cast, runtime, 1)
        await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        with time_machine.travel(utcnow() + timedelta(minutes=3), tick=True):
            await client.patch(
                f"/api/v1/conversations/{conversation}",
                json={"status": "resolved"},
                headers=cast.alice.headers,
            )
            await run_jobs(runtime)
        # The report reads whole hours up to the current one: read it an hour later.
        with time_machine.travel(utcnow() + timedelta(hours=1, minutes=5), tick=True):
            answer = await client.get(URL, params={"weeks": 1}, headers=cast.sara.headers)
        assert answer.status_code == 200, answer.text
        [api] = answer.json()["channels"]
        assert api["channel"] == "api" and api["handled"] == 1
