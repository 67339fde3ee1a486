"""The Asterisk AMI adapter against a fake AMI server speaking the real framing: login,
events turned into calls (and screen pops), one connection per PBX across processes (the
lease), reconnection after the PBX drops us, and click-to-call through Originate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import select

from frontdesk.channels.cti.ami import AmiCalls, extension_of, read_packet
from frontdesk.channels.cti.runner import AmiRunner
from frontdesk.conversations.models import Message
from frontdesk.kit.events import Event
from frontdesk.runtime import Runtime
from tests.channels.cti.conftest import AMI_SECRET, AMI_USER, FakeAmi, make_cti_inbox
from tests.channels.cti.test_events import give_extension
from tests.conftest import Cast, run_jobs

CALLER = "+971501234567"


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not await check():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)


async def calls(runtime: Runtime) -> list[dict]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Message).where(Message.kind == "call"))
        found = [row.meta["call"] for row in rows.all()]
        await session.commit()
    return found


async def pop_agents(runtime: Runtime) -> list[int]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Event).where(Event.type == "call.screen_pop"))
        found = [row.payload["agent_id"] for row in rows.all()]
        await session.commit()
    return found


def runner_for(runtime: Runtime, name: str) -> AmiRunner:
    runner = AmiRunner(runtime, name=name)
    runner.refresh_seconds = 0.1
    runner.first_backoff = 0.05
    runner.lease_seconds = 1.5
    return runner


async def ami_inbox(runtime: Runtime, ami: FakeAmi, **extra: object) -> int:
    inbox = await make_cti_inbox(
        runtime, ami_host="127.0.0.1", ami_port=ami.port, ami_username=AMI_USER,
        ami_secret=AMI_SECRET, **extra,
    )  # fmt: skip
    return inbox.id


class TestFraming:
    async def test_packets_are_read_up_to_the_blank_line(self) -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"Event: Hangup\r\nUniqueid: 1.1\r\nCause-txt: Normal: ok\r\n\r\n")
        reader.feed_eof()
        assert await read_packet(reader) == {
            "Event": "Hangup", "Uniqueid": "1.1", "Cause-txt": "Normal: ok",
        }  # fmt: skip
        with pytest.raises(ConnectionError):
            await read_packet(reader)

    def test_the_extension_comes_from_the_dialled_channel(self) -> None:
        assert extension_of("PJSIP/201-0000002a") == "201"
        assert extension_of("SIP/alice-00000001") == "alice"
        assert extension_of("Local/301@from-internal-00000004;1") == "301"
        assert extension_of("garbage") is None

    def test_a_call_reads_as_offered_answered_transferred_ended(self) -> None:
        reader = AmiCalls()
        link = "1733450000.17"
        base = {"Uniqueid": link, "Linkedid": link, "CallerIDNum": CALLER}
        assert reader.read({"Event": "Newchannel", "Exten": "100", **base}) == []
        [offered] = reader.read({"Event": "DialBegin", "DestChannel": "PJSIP/201-1", **base})
        [answered] = reader.read(
            {"Event": "DialEnd", "DialStatus": "ANSWER", "DestChannel": "PJSIP/201-1", **base}
        )
        [moved] = reader.read({"Event": "BlindTransfer", "Extension": "202", **base})
        [ended] = reader.read({"Event": "Hangup", **base})
        assert [e.event for e in (offered, answered, moved, ended)] == [
            "offered", "answered", "transferred", "ended",
        ]  # fmt: skip
        assert (offered.extension, moved.extension) == ("201", "202")
        assert {e.call_id for e in (offered, ended)} == {link}
        # An internal call (extension to extension) is no customer's call.
        assert reader.read({"Event": "Newchannel", "Uniqueid": "9.9", "Linkedid": "9.9",
                            "CallerIDNum": "201"}) == []  # fmt: skip
        assert reader.read({"Event": "DialBegin", "Uniqueid": "9.9", "Linkedid": "9.9",
                            "DestChannel": "PJSIP/202-1"}) == []  # fmt: skip


class TestRunner:
    async def test_a_ringing_extension_pops_its_agent_and_the_call_is_stored(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime, ami: FakeAmi
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        await ami_inbox(runtime, ami)
        runner = runner_for(runtime, "one")
        await runner.start()
        try:
            await asyncio.wait_for(ami.connected.wait(), 10)
            await ami.call("1733450000.17", CALLER, "201")
            await eventually(lambda: _has(pop_agents(runtime), [cast.alice.id]))
            await ami.emit(Event="DialEnd", Uniqueid="1733450000.17", Linkedid="1733450000.17",
                           DialStatus="ANSWER", DestChannel="PJSIP/201-0000002a")  # fmt: skip
            await ami.emit(Event="Hangup", Uniqueid="1733450000.17", Linkedid="1733450000.17")
            await eventually(lambda: _status(runtime, "ended"))
        finally:
            await runner.stop()
        [call] = await calls(runtime)
        assert call["from_number"] == CALLER and call["agent_id"] == cast.alice.id

    async def test_one_process_holds_the_connection_and_another_takes_over(
        self, cast: Cast, runtime: Runtime, ami: FakeAmi
    ) -> None:
        await ami_inbox(runtime, ami)
        first, second = runner_for(runtime, "first"), runner_for(runtime, "second")
        await first.start()
        await asyncio.wait_for(ami.connected.wait(), 10)
        await second.start()
        try:
            await asyncio.sleep(1.0)
            assert len(ami.logins) == 1  # the second waits for the lease
            await first.stop()  # releases the lease
            await eventually(lambda: _true(len(ami.logins) == 2))
            assert len(ami.writers) == 1
        finally:
            await first.stop()
            await second.stop()

    async def test_a_dropped_connection_is_opened_again(
        self, cast: Cast, runtime: Runtime, ami: FakeAmi
    ) -> None:
        await ami_inbox(runtime, ami)
        runner = runner_for(runtime, "one")
        await runner.start()
        try:
            await asyncio.wait_for(ami.connected.wait(), 10)
            await ami.drop()
            await eventually(lambda: _true(len(ami.logins) == 2))
            await ami.call("1733450001.5", CALLER, "201")
            await eventually(lambda: _count(calls(runtime), 1))
        finally:
            await runner.stop()

    async def test_a_wrong_secret_is_refused_and_noted(
        self, cast: Cast, runtime: Runtime, ami: FakeAmi
    ) -> None:
        ami.secret = "another-secret"
        await ami_inbox(runtime, ami)
        runner = runner_for(runtime, "one")
        await runner.start()
        try:
            await eventually(lambda: _true(ami.refused >= 2))  # tried again, backing off
        finally:
            await runner.stop()
        assert ami.logins == []


class TestOriginate:
    async def test_click_to_call_rings_the_agents_extension_then_dials(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime, ami: FakeAmi
    ) -> None:
        await give_extension(client, cast, cast.ada.id, "201")
        inbox_id = await ami_inbox(runtime, ami)
        placed = await client.post(
            f"/api/v1/inboxes/{inbox_id}/cti/calls", json={"number": "050 123 4567"},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert placed.status_code == 202, placed.text
        assert placed.json() == {"extension": "201", "number": CALLER}
        await run_jobs(runtime)
        [originate] = [a for a in ami.actions if a.get("Action") == "Originate"]
        assert originate["Channel"] == "PJSIP/201"
        assert originate["Exten"] == CALLER
        assert originate["Context"] == "from-internal"

    async def test_an_agent_without_extension_cannot_place_a_call(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime, ami: FakeAmi
    ) -> None:
        inbox_id = await ami_inbox(runtime, ami)
        placed = await client.post(
            f"/api/v1/inboxes/{inbox_id}/cti/calls", json={"number": CALLER},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert placed.status_code == 409
        assert placed.json()["error"]["code"] == "no_extension"


async def _has(found: Awaitable[list[int]], wanted: list[int]) -> bool:
    return await found == wanted


async def _true(value: bool) -> bool:
    return value


async def _count(found: Awaitable[list[dict]], n: int) -> bool:
    return len(await found) == n


async def _status(runtime: Runtime, status: str) -> bool:
    return [c["status"] for c in await calls(runtime)] == [status]
