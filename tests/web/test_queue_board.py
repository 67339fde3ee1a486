"""The supervisor's queue board: per queue the waiting count, the oldest wait, the tasks close
to their SLA and the queue's agents by presence state; supervisors and admins only."""

from __future__ import annotations

import re
from datetime import timedelta

from frontdesk.auth import repository as auth_repository
from frontdesk.db import utcnow
from frontdesk.kit import uow
from frontdesk.routing import board
from frontdesk.routing import service as routing_service
from frontdesk.routing.models import RoutingTask
from tests.routing.test_views import set_worker
from tests.web.test_desk import login


async def queue(client, cast, name: str, expression: str) -> int:  # type: ignore[no-untyped-def]
    made = await client.post(
        "/api/v1/routing/queues",
        json={"name": name, "agent_expression": expression},
        headers=cast.ada.headers,
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def row(page: str, queue_id: int) -> str:
    found = re.search(rf'<tr data-testid="fd-queue-row" data-queue-id="{queue_id}"[^>]*>', page)
    assert found is not None, page
    return found.group(0)


class TestQueueBoard:
    async def test_counts_per_queue(self, client, cast, runtime):
        support = await queue(client, cast, "Support", "teams HAS 'Support'")
        billing = await queue(client, cast, "Billing", "teams HAS 'Billing'")
        await set_worker(client, cast, cast.alice.id, capacity={"webchat": 1})  # available
        await set_worker(client, cast, cast.bob.id, presence="away")
        now = utcnow()
        async with runtime.db.session() as session:
            for minutes, due in (
                (12, now + timedelta(minutes=30)),
                (3, None),
                (1, now - timedelta(minutes=1)),
            ):
                session.add(
                    RoutingTask(
                        queue_id=support, status="waiting", due_at=due,
                        created_at=now - timedelta(minutes=minutes),
                        rank_at=now - timedelta(minutes=minutes),
                    )
                )  # fmt: skip
            # Held by an agent, due tomorrow: not waiting, not at risk.
            session.add(
                RoutingTask(
                    queue_id=support, status="assigned", assignee_id=cast.alice.id,
                    due_at=now + timedelta(days=1), created_at=now - timedelta(hours=2),
                    rank_at=now - timedelta(hours=2),
                )
            )  # fmt: skip
            await session.commit()
        async with runtime.db.session() as session:
            lines = {line.id: line for line in await board.lines(session, now=now)}
        assert lines[support].waiting == 3
        assert lines[support].oldest_seconds == 12 * 60
        assert lines[support].at_risk == 2  # due in 30 minutes, and breached
        assert lines[support].agents["available"] == 1  # Alice
        assert lines[billing].waiting == 0 and lines[billing].oldest_seconds is None
        assert lines[billing].agents["away"] == 1  # Bob
        assert lines[billing].agents["available"] == 0
        # The page and its live fragment show the same.
        await login(client, cast.sara)
        for url in ("/supervisor", "/supervisor/queues"):
            page = await client.get(url)
            assert page.status_code == 200
            line = row(page.text, support)
            assert 'data-waiting="3"' in line and 'data-at-risk="2"' in line
            assert 'data-agents-available="1"' in line
            assert 'data-agents-away="1"' in row(page.text, billing)

    async def test_only_supervisors_and_admins(self, client, cast):
        await queue(client, cast, "Support", "teams HAS 'Support'")
        await login(client, cast.alice)
        assert (await client.get("/supervisor/queues")).status_code == 404
        assert (await client.get("/supervisor/agents")).status_code == 404
        assert (await client.get("/supervisor")).status_code == 404

    async def test_the_agents_fragment_shows_presence_set_by_the_rule(self, client, cast, runtime):
        """The agents' table refreshes on presence events (desk.js, data-page supervisor):
        its fragment shows what the presence rule set."""
        async with runtime.db.session() as session:
            alice = await auth_repository.get_agent(session, cast.alice.id)
            assert alice is not None
            await routing_service.set_status(session, alice, "available")
            await session.commit()
        await client.patch(
            "/api/v1/routing/presence-rule", json={"enabled": True}, headers=cast.ada.headers
        )
        async with runtime.db.session() as session:
            busy = await routing_service.call_started(
                session, cast.alice.id, channel="voice", reason="call_answered"
            )
            await uow.commit(session)
        assert busy
        await login(client, cast.sara)
        page = await client.get("/supervisor")
        assert 'data-page="supervisor"' in page.text
        fragment = await client.get("/supervisor/agents")
        assert fragment.status_code == 200
        assert f'data-agent-id="{cast.alice.id}" data-presence="busy"' in fragment.text

    async def test_in_persian_with_persian_digits(self, client, cast, runtime):
        support = await queue(client, cast, "Support", "teams HAS 'Support'")
        now = utcnow()
        async with runtime.db.session() as session:
            session.add(
                RoutingTask(
                    queue_id=support, status="waiting", created_at=now - timedelta(minutes=7),
                    rank_at=now,
                )
            )  # fmt: skip
            await session.commit()
        answer = await client.patch(
            f"/api/v1/agents/{cast.sara.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        assert answer.status_code == 200, answer.text
        await login(client, cast.sara)
        page = (await client.get("/supervisor/queues")).text
        assert "قدیمی‌ترین انتظار" in page
        assert "۷ دقیقه" in page  # noqa: RUF001
