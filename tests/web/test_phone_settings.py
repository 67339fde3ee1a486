"""Settings -> Phone extensions: admins give each agent their PBX extension (the one CTI
events and AMI name); agents may not; a taken extension is refused with a clear message."""

from __future__ import annotations

from frontdesk.auth.models import Agent
from tests.web.test_settings import csrf_of, log_in, open_as


async def extension_of(runtime, agent_id: int) -> str | None:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        agent = await session.get(Agent, agent_id)
        await session.commit()
    assert agent is not None
    return agent.extension


class TestPhoneExtensions:
    async def test_an_admin_sets_and_clears_an_extension(self, client, cast, runtime):
        html = await open_as(client, cast.ada, "/settings/phones")
        assert 'data-testid="fd-phone-row"' in html
        saved = await client.post(
            f"/settings/phones/{cast.alice.id}", data={"csrf": csrf_of(html), "extension": "201"}
        )
        assert saved.status_code == 303
        assert await extension_of(runtime, cast.alice.id) == "201"
        page = await client.get("/settings/phones")
        assert 'value="201"' in page.text
        taken = await client.post(
            f"/settings/phones/{cast.bob.id}", data={"csrf": csrf_of(html), "extension": "201"}
        )
        assert taken.status_code == 422
        assert 'data-testid="fd-phones-problem"' in taken.text
        assert await extension_of(runtime, cast.bob.id) is None
        cleared = await client.post(
            f"/settings/phones/{cast.alice.id}", data={"csrf": csrf_of(html), "extension": ""}
        )
        assert cleared.status_code == 303
        assert await extension_of(runtime, cast.alice.id) is None

    async def test_agents_may_not(self, client, cast, runtime):
        await log_in(client, cast.alice)
        assert (await client.get("/settings/phones")).status_code == 403
        home = await client.get("/")
        posted = await client.post(
            f"/settings/phones/{cast.alice.id}", data={"csrf": csrf_of(home.text), "extension": "1"}
        )
        assert posted.status_code == 403
        assert await extension_of(runtime, cast.alice.id) is None
