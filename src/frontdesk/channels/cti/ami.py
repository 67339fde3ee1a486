"""Asterisk Manager Interface (AMI), the PBX's TCP text protocol: a banner line ("Asterisk
Call Manager/5.0.x"), then packets of "Key: Value\\r\\n" lines, each ended by a blank line.
We send actions (Login, Originate, Logoff), and read responses and events.

`AmiCalls` turns the events of the calls into our generic CTI events (schemas.CtiEvent):
a call is the PBX's Linkedid (the Uniqueid of its first channel); the extension is read from
the dialled channel's name (PJSIP/201-00000002 → 201)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from dataclasses import dataclass, field

from frontdesk.channels.cti.schemas import CtiEvent

Packet = dict[str, str]
# A packet bigger than this is not AMI (a wrong port, an attacker): the connection drops.
MAX_PACKET = 64 * 1024
_CHANNEL = re.compile(r"^[A-Za-z0-9]+/([0-9A-Za-z*#+_.]{1,20})(?:[-@;].*)?$")
_ids = itertools.count(1)


class AmiError(Exception):
    """The PBX refused us (bad login, a failed action) or spoke no AMI."""


def encode(packet: Packet) -> bytes:
    lines = []
    for key, value in packet.items():
        if "\r" in value or "\n" in value or "\r" in key or "\n" in key:
            raise AmiError(f"AMI field {key!r} may not contain a line break")
        lines.append(f"{key}: {value}\r\n")
    return ("".join(lines) + "\r\n").encode()


async def read_packet(reader: asyncio.StreamReader) -> Packet:
    """The next packet; EOF raises ConnectionError."""
    packet: Packet = {}
    size = 0
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("the PBX closed the AMI connection")
        size += len(line)
        if size > MAX_PACKET:
            raise AmiError("AMI packet too large")
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if packet:
                return packet
            continue
        key, sep, value = text.partition(":")
        if sep:
            packet[key.strip()] = value.strip()


class AmiConnection:
    """One logged-in AMI session. Responses to our actions are matched by ActionID; every
    other packet (events) is queued for `events()`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.waiting: dict[str, asyncio.Future[Packet]] = {}
        self.queue: asyncio.Queue[Packet | BaseException] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, host: str, port: int, *, username: str, secret: str, timeout: float = 10.0
    ) -> AmiConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        connection = cls(reader, writer)
        try:
            banner = await asyncio.wait_for(reader.readline(), timeout)
            if not banner.startswith(b"Asterisk Call Manager/"):
                raise AmiError(f"not an AMI server: {banner[:60]!r}")
            connection._pump = asyncio.create_task(connection._read())
            answer = await asyncio.wait_for(
                connection.action({"Action": "Login", "Username": username, "Secret": secret}),
                timeout,
            )
            if answer.get("Response") != "Success":
                raise AmiError(f"AMI login refused: {answer.get('Message', '')}")
        except BaseException:
            await connection.close()
            raise
        return connection

    async def action(self, packet: Packet) -> Packet:
        action_id = f"fd-{next(_ids)}"
        future: asyncio.Future[Packet] = asyncio.get_running_loop().create_future()
        self.waiting[action_id] = future
        try:
            self.writer.write(encode({**packet, "ActionID": action_id}))
            await self.writer.drain()
            return await future
        finally:
            self.waiting.pop(action_id, None)

    async def _read(self) -> None:
        try:
            while True:
                packet = await read_packet(self.reader)
                future = self.waiting.get(packet.get("ActionID", ""))
                if "Response" in packet and future is not None and not future.done():
                    future.set_result(packet)
                elif "Event" in packet:
                    await self.queue.put(packet)
        except (ConnectionError, AmiError, OSError) as exc:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError(str(exc)))
            await self.queue.put(exc)

    async def event(self) -> Packet:
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()


def extension_of(channel: str) -> str | None:
    """PJSIP/201-00000002 → 201 (SIP/201-…, IAX2/201-…, Local/201@ctx-… alike)."""
    found = _CHANNEL.match(channel.strip())
    return found.group(1) if found else None


@dataclass
class _Call:
    caller: str
    called: str
    name: str | None = None
    extension: str | None = None
    answered: bool = False


@dataclass
class AmiCalls:
    """The calls in progress on the PBX, as its events tell them (one AMI connection)."""

    calls: dict[str, _Call] = field(default_factory=dict)

    def read(self, packet: Packet) -> list[CtiEvent]:
        kind = packet.get("Event", "")
        linked = packet.get("Linkedid") or packet.get("Uniqueid") or ""
        if not linked:
            return []
        if kind == "Newchannel" and packet.get("Uniqueid") == linked:
            caller = packet.get("CallerIDNum", "")
            if _number(caller):
                name = packet.get("CallerIDName")
                self.calls[linked] = _Call(
                    caller=caller, called=packet.get("Exten", ""),
                    name=name if name and name not in ("<unknown>", caller) else None,
                )  # fmt: skip
            return []
        call = self.calls.get(linked)
        if call is None:
            return []
        if kind == "DialBegin":
            extension = extension_of(packet.get("DestChannel", "")) or packet.get("DestCallerIDNum")
            if not extension:
                return []
            call.extension = extension
            return [self._event("offered", linked, call)]
        if kind == "DialEnd" and packet.get("DialStatus") == "ANSWER":
            extension = extension_of(packet.get("DestChannel", "")) or call.extension
            call.extension, call.answered = extension, True
            return [self._event("answered", linked, call)]
        if kind == "BlindTransfer":
            extension = packet.get("Extension")
            if extension:
                call.extension = extension
                return [self._event("transferred", linked, call)]
        if kind == "AttendedTransfer":
            extension = packet.get("SecondTransfereeCallerIDNum") or packet.get(
                "TransferTargetCallerIDNum"
            )
            if extension:
                call.extension = extension
                return [self._event("transferred", linked, call)]
        if kind == "Hangup" and packet.get("Uniqueid") == linked:
            self.calls.pop(linked, None)
            return [self._event("ended", linked, call)]
        return []

    def _event(self, name: str, linked: str, call: _Call) -> CtiEvent:
        return CtiEvent.model_validate(
            {
                "event": name,
                "call_id": linked[:100],
                "caller_id": call.caller[:40],
                "caller_name": (call.name or None) and call.name[:200] if call.name else None,
                "extension": call.extension,
                "called": call.called[:40] or None,
            }
        )


def _number(value: str) -> bool:
    digits = value.lstrip("+")
    return digits.isdigit() and len(digits) >= 7  # an outside number, not an extension
