"""A customer's journey from the database: stages on every channel the viewer may see, their
messages, and markers from registered providers; on the conversation page's customer panel."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import journey as journeys
from frontdesk.analytics.journey import MARKER_PROVIDERS, Marker, provide_markers
from frontdesk.db import utcnow
from frontdesk.runtime import Runtime
from tests.conftest import Cast, inbound_payload, post_inbound, run_jobs
from tests.web.test_views import log_in

SVG = "{http://www.w3.org/2000/svg}"


async def two_conversations(client: httpx.AsyncClient, cast: Cast) -> tuple[int, int, int]:
    """Layla writes twice on the Website inbox, then once on the App inbox."""
    first = await post_inbound(client, cast.website, inbound_payload("w1", "layla@example.com"))
    await post_inbound(client, cast.website, inbound_payload("w2", "layla@example.com"))
    other = await post_inbound(client, cast.app, inbound_payload("a1", "layla@example.com"))
    a, b = first.json(), other.json()
    assert a["customer_id"] == b["customer_id"]
    return int(a["customer_id"]), int(a["conversation_id"]), int(b["conversation_id"])


class TestJourney:
    async def test_stages_and_touches(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        customer, website, app = await two_conversations(client, cast)
        async with runtime.db.session() as session:
            found = await journeys.journey(session, customer, visible=None)
            only_website = await journeys.journey(session, customer, visible={cast.website.id})
        assert [s.conversation_id for s in found.stages] == [website, app]
        assert [len(s.touches) for s in found.stages] == [2, 1]
        assert all(
            t.direction == "inbound" and t.sentiment is None for t in found.stages[0].touches
        )
        assert found.channels == ["api"]
        assert [s.conversation_id for s in only_website.stages] == [website]

    async def test_a_touch_carries_the_sentiment_measured_on_its_message(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        angry = "This is terrible, my order never arrived and nobody answers. I am very angry."
        sent = await post_inbound(
            client, cast.website, inbound_payload("s1", "layla@example.com", angry)
        )
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            found = await journeys.journey(session, int(sent.json()["customer_id"]), visible=None)
        assert [t.sentiment for t in found.stages[0].touches] == ["negative"]
        assert found.stages[0].sentiment == "negative"

    async def test_markers_from_a_provider(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        customer, website, _app = await two_conversations(client, cast)
        asked: list[Sequence[int]] = []

        async def surveys(session: AsyncSession, ids: Sequence[int]) -> list[Marker]:
            asked.append(list(ids))
            return [
                Marker(website, utcnow(), "survey", "CSAT 5/5", "positive"),
                Marker(-1, utcnow(), "survey", "not this customer's"),
            ]

        provide_markers(surveys)
        try:
            async with runtime.db.session() as session:
                found = await journeys.journey(session, customer, visible=None)
        finally:
            MARKER_PROVIDERS.remove(surveys)
        assert len(asked) == 1 and website in asked[0]
        assert [m.label for m in found.stages[0].markers] == ["CSAT 5/5"]
        assert found.stages[1].markers == []


class TestOnTheCustomerPanel:
    async def test_the_conversation_page_draws_what_the_agent_may_see(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        _customer, website, app = await two_conversations(client, cast)
        await log_in(client, cast.ada)
        page = await client.get(f"/conversations/{website}")
        assert 'data-testid="fd-journey"' in page.text
        assert f'href="/conversations/{app}"' in page.text
        client.cookies.clear()
        await log_in(client, cast.alice)  # Support: the Website inbox only
        page = await client.get(f"/conversations/{website}")
        assert 'data-testid="fd-journey"' in page.text
        start = page.text.index('data-testid="fd-journey"')
        picture = page.text[start : page.text.index("</svg>", start)]
        assert f'href="/conversations/{website}"' in picture
        assert f'href="/conversations/{app}"' not in picture
