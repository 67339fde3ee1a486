"""CTI fixtures: a CTI inbox, a signer for the PBX's events, and a fake Asterisk AMI server
on loopback that speaks the real framing: the banner "Asterisk Call Manager/5.0.x", packets
of "Key: Value\\r\\n" lines ended by a blank line, Login checked against its credentials,
Originate recorded, events pushed to every logged-in connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.kit.security import sign
from frontdesk.runtime import Runtime

SIGNING_SECRET = "pbx-signing-secret-0123456789"
AMI_USER = "frontdesk"
AMI_SECRET = "ami-secret-42"


@dataclass
class CtiInbox:
    id: int
    secret: str = SIGNING_SECRET

    @property
    def path(self) -> str:
        return f"/webhooks/cti/{self.id}"

    def headers(self, body: bytes, secret: str | None = None) -> dict[str, str]:
        return {
            "X-Frontdesk-Signature": sign(secret or self.secret, body),
            "content-type": "application/json",
        }

    async def post(
        self, client: httpx.AsyncClient, event: dict[str, Any], *, secret: str | None = None
    ) -> httpx.Response:
        body = json.dumps(event).encode()
        return await client.post(self.path, content=body, headers=self.headers(body, secret))


async def make_cti_inbox(
    runtime: Runtime, *, team_ids: list[int] | None = None, **settings: Any
) -> CtiInbox:
    async with runtime.db.session() as session:
        inbox = await inboxes.create_inbox(
            session,
            InboxCreate(
                channel="cti", name="Office PBX", team_ids=team_ids or [],
                settings={"signing_secret": SIGNING_SECRET, "default_region": "AE", **settings},
            ),
            runtime.settings,
        )  # fmt: skip
        await uow.commit(session)
    return CtiInbox(inbox.id)


@pytest.fixture
async def pbx(runtime: Runtime) -> CtiInbox:
    return await make_cti_inbox(runtime)


def frame(packet: dict[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in packet.items()) + "\r\n").encode()


@dataclass
class FakeAmi:
    """A loopback AMI server. `emit` pushes an event to every logged-in connection."""

    username: str = AMI_USER
    secret: str = AMI_SECRET
    port: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refused: int = 0
    actions: list[dict[str, str]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.drop()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def drop(self) -> None:
        """Cut every connection (the PBX restarts)."""
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        self.connected.clear()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/5.0.2\r\n")
        await writer.drain()
        try:
            while True:
                packet: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if not line:
                        return
                    text = line.decode().rstrip("\r\n")
                    if not text:
                        break
                    key, _, value = text.partition(":")
                    packet[key.strip()] = value.strip()
                if not packet:
                    continue
                await self.answer(packet, writer)
        except (ConnectionError, OSError):
            return
        finally:
            if writer in self.writers:
                self.writers.remove(writer)

    async def answer(self, packet: dict[str, str], writer: asyncio.StreamWriter) -> None:
        action = packet.get("Action", "")
        self.actions.append(packet)
        reply = {"Response": "Success", "ActionID": packet.get("ActionID", "")}
        if action == "Login":
            if (packet.get("Username"), packet.get("Secret")) != (self.username, self.secret):
                self.refused += 1
                reply.update(Response="Error", Message="Authentication failed")
            else:
                self.logins.append(packet.get("Username", ""))
                reply["Message"] = "Authentication accepted"
                self.writers.append(writer)
                self.connected.set()
        elif action == "Originate":
            reply["Message"] = "Originate successfully queued"
        elif action == "Logoff":
            reply = {"Response": "Goodbye", "ActionID": packet.get("ActionID", "")}
        writer.write(frame(reply))
        await writer.drain()
        if action == "Login" and reply["Response"] == "Success":
            writer.write(frame({"Event": "FullyBooted", "Privilege": "system,all"}))
            await writer.drain()

    async def emit(self, **event: str) -> None:
        for writer in list(self.writers):
            writer.write(frame(event))
            await writer.drain()

    async def call(self, linked: str, caller: str, extension: str, *, name: str = "") -> None:
        """An outside call reaching the PBX and ringing an extension (Asterisk 16 events)."""
        await self.emit(Event="Newchannel", Channel=f"PJSIP/trunk-{linked[-4:]}",
                        CallerIDNum=caller, CallerIDName=name or "<unknown>", Exten="100",
                        Context="from-trunk", Uniqueid=linked, Linkedid=linked)  # fmt: skip
        await self.emit(Event="DialBegin", Channel=f"PJSIP/trunk-{linked[-4:]}",
                        CallerIDNum=caller, Uniqueid=linked, Linkedid=linked,
                        DestChannel=f"PJSIP/{extension}-0000002a", DestCallerIDNum=extension,
                        DestUniqueid=linked + ".1", DestLinkedid=linked,
                        DialString=extension)  # fmt: skip


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()
