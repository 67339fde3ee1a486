"""The voice channel's rules: each provider webhook moves its call one step (stored once,
committed before we answer) and answers the TwiML of the step the call is now at.

A call is stored as an inbound message of kind "call" through `receive` (so the caller's
number resolves to the same customer as their SMS or WhatsApp), with a `VoiceCall` row for
where it is in the IVR and the queue."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.voice import ivr, repository
from frontdesk.channels.voice.adapter import FINAL, one, seconds, settings_of, voice_channel
from frontdesk.channels.voice.models import VoiceCall
from frontdesk.channels.voice.schemas import DAYS, VoiceSettings
from frontdesk.channels.voice.writer import StepWork, settle, writer_of
from frontdesk.conversations import calls
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations.models import Message
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound, webhook_url
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit import uow
from frontdesk.kit.errors import Invalid
from frontdesk.kit.events import record

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

FETCH_RECORDING_JOB = "voice.fetch_recording"
T = TypeVar("T")


# TwiML answers a line keeps (a pure function of its settings and a few values: the
# language, the queue position, the agent); past this many it starts again.
MAX_ANSWERS = 2048


@dataclass
class Line:
    """A voice inbox as its webhooks use it, made once per inbox row the process caches
    (inboxes/cache.py, a few seconds): its secrets opened, its settings parsed, its webhook
    URL, and the TwiML documents it has answered, rendered once each."""

    inbox: Inbox
    conf: VoiceSettings
    hook: str
    answers: dict[tuple[object, ...], str] = field(default_factory=dict)

    def twiml(self, key: tuple[object, ...], render: Callable[[], str]) -> str:
        found = self.answers.get(key)
        if found is None:
            if len(self.answers) >= MAX_ANSWERS:
                self.answers.clear()
            found = self.answers[key] = render()
        return found


# Keyed by the cached row itself: a row the cache replaces (a changed inbox) makes a new line.
_LINES: weakref.WeakKeyDictionary[Inbox, Line] = weakref.WeakKeyDictionary()


def line_of(runtime: Runtime, cached: Inbox) -> Line:
    """The line of an inbox row from the process's inbox cache."""
    line = _LINES.get(cached)
    if line is None:
        inbox = opened_inbox(cached, runtime.settings)
        hook = webhook_url(inbox, runtime.settings)
        assert hook is not None
        line = _LINES[cached] = Line(inbox, settings_of(inbox), hook)
    return line


@dataclass
class Step:
    """One signed webhook of one call: its line (the inbox, secrets opened), its
    parameters, and the absolute URL of the inbox's webhook (TwiML actions hang below it)."""

    runtime: Runtime
    line: Line
    params: dict[str, str]
    query: dict[str, str]

    @property
    def inbox(self) -> Inbox:
        return self.line.inbox

    @property
    def conf(self) -> VoiceSettings:
        return self.line.conf

    @property
    def hook(self) -> str:
        return self.line.hook


def is_open(conf: VoiceSettings, at: datetime) -> bool:
    """Within the inbox's business hours (its static week, in its time zone)."""
    local = at.astimezone(ZoneInfo(conf.timezone))
    opens, closes = conf.hours()
    return DAYS[local.weekday()] in conf.open_days and opens <= local.time() < closes


async def _write(step: Step, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Committed before the provider hears our answer: group-committed with the steps of
    other calls (writer.py), or alone where no writer runs."""
    writer = writer_of(step.runtime)
    if writer is not None:
        result: T = await writer.group.submit(StepWork(work, _call_key(step)))
        return result
    async with step.runtime.db.session() as session:

        async def alone() -> T:
            outcomes = [await work(session)]
            await settle(session, outcomes)
            result: T = outcomes[0]
            return result

        return await uow.retrying(session, alone)


def _call_key(step: Step) -> tuple[int, str] | None:
    """(inbox id, CallSid) of the call a step names by the provider's id, for the writer to
    read ahead with the other calls of its batch."""
    if step.query.get("call", "").isdigit():
        return None
    sid = (step.params.get("ParentCallSid") or step.params.get("CallSid") or "").strip()
    return (step.inbox.id, sid) if 0 < len(sid) <= 64 else None


async def _call(session: AsyncSession, step: Step) -> tuple[VoiceCall, Message]:
    """The call and its message (for steps that change what the timeline shows); the
    message was read with the call, so this is no query."""
    found = await _call_only(session, step)
    message = await conversations_repository.get_message(session, found.message_id)
    assert message is not None
    return found, message


async def _call_only(session: AsyncSession, step: Step) -> VoiceCall:
    """The call this webhook is about: by our id (outbound calls name it in the URL) or the
    provider's CallSid (ParentCallSid for an agent's leg), read ahead with its batch's
    calls (writer.py) or here with its message and conversation, in one statement."""
    voice_channel.same_account(step.inbox, step.params)
    found: VoiceCall | None = None
    if step.query.get("call", "").isdigit():
        found = await repository.get_call_by_id(session, int(step.query["call"]))
    else:
        sid = step.params.get("ParentCallSid") or one(step.params, "CallSid", limit=64)
        read = repository.read_call(session, step.inbox.id, sid)
        if isinstance(read, VoiceCall):
            found = read
        elif isinstance(read, Message):  # no call row when read ahead, nor made since
            found = await _first_step(session, step.inbox.id, sid, read)
        else:
            found = (await repository.calls_by_sid(session, step.inbox.id, [sid])).get(sid)
            if found is None:
                message = await conversations_repository.find_message(session, step.inbox.id, sid)
                found = await _first_step(session, step.inbox.id, sid, message)
    if found is None or found.inbox_id != step.inbox.id:
        raise Invalid("no such call on this inbox", code="unknown_call")
    return found


async def _first_step(
    session: AsyncSession, inbox_id: int, sid: str, message: Message | None
) -> VoiceCall | None:
    """The call's own row, made by the first step after the incoming webhook: the incoming
    call is one transaction (its message, through the ingest group commit), and the row
    follows from that message (where the caller is: the IVR, or voicemail after hours)."""
    if message is None or message.kind != calls.CALL_KIND or message.direction != "inbound":
        return None
    voicemail = (message.meta.get("call") or {}).get("status") == "voicemail"
    row = VoiceCall(
        inbox_id=inbox_id, call_sid=sid, message_id=message.id,
        conversation_id=message.conversation_id, direction="inbound",
        state="voicemail" if voicemail else "ivr", queue_id=0, created_at=message.created_at,
    )  # fmt: skip
    session.add(row)  # flushed with the step's change (or for its id: the queue position, a job)
    repository.remember_call(session, row)
    return row


async def incoming(step: Step) -> str:
    """A new call (or the provider's retry of one): stored once in one transaction (the
    call's message; its VoiceCall row comes with the caller's next step), then the language
    menu, or voicemail after hours."""
    call = voice_channel.incoming_of(step.inbox, step.params)
    conf = step.conf
    closed = not is_open(conf, utcnow())
    received = await step.runtime.ingestor.take(
        Inbound(
            inbox_id=step.inbox.id,
            external_id=call.call_sid,
            provider_message_id=call.call_sid,
            address=call.caller,
            text="",
            kind=calls.CALL_KIND,
            meta={
                "call": {
                    "direction": "inbound",
                    "status": "voicemail" if closed else "ringing",
                    "from_number": call.caller,
                    "to_number": call.called or conf.phone_number,
                }
            },
        )
    )
    state = await _state_of_retry(step, call.call_sid) if received.duplicate else None
    if state is None:
        status = (received.message.meta.get("call") or {}).get("status")
        state = "voicemail" if status == "voicemail" else "ivr"
    if state == "voicemail":
        return step.line.twiml(("voicemail",), lambda: ivr.voicemail(conf, step.hook))
    if state != "ivr":
        return await wait(step)
    if len(conf.languages) == 1:
        return await chose_language(step)
    return step.line.twiml(("language",), lambda: ivr.language_menu(conf, step.hook))


async def _state_of_retry(step: Step, sid: str) -> str | None:
    """Where a call whose incoming webhook came again already is (None: no step yet). A
    read: the retry writes nothing."""
    async with step.runtime.db.session() as session:
        row = await repository.get_call(session, step.inbox.id, sid)
        state = row.state if row is not None else None
        await session.rollback()
    return state


def _digit(step: Step) -> str:
    return (step.params.get("Digits") or "").strip()[:1]


async def chose_language(step: Step) -> str:
    """The language menu's answer (none or a wrong key: the first language)."""
    conf = step.conf
    digit = _digit(step)
    index = int(digit) - 1 if digit.isdigit() else 0
    lang = conf.languages[index] if 0 <= index < len(conf.languages) else conf.languages[0]

    async def work(session: AsyncSession) -> None:
        call = await _call_only(session, step)
        if call.state == "ivr":
            call.language = lang  # on the call's message when the caller joins the queue

    await _write(step, work)
    if not conf.choices():
        return await _join(step, queue_id=0)
    return step.line.twiml(("menu", lang), lambda: ivr.queue_menu(conf, lang, step.hook))


async def chose_queue(step: Step) -> str:
    """The queue menu's answer: a choice joins its queue (no answer: the first choice)."""
    conf = step.conf
    choices = {digit: queue for digit, queue, _ in conf.choices()}
    digit = _digit(step)
    if digit and digit not in choices:
        lang = await _language_of(step)
        return step.line.twiml(
            ("menu again", lang), lambda: ivr.queue_menu(conf, lang, step.hook, again=True)
        )
    queue_id = choices.get(digit) or next(iter(choices.values()), 0)
    return await _join(step, queue_id=queue_id)


async def _language_of(step: Step) -> str:
    async def work(session: AsyncSession) -> str:
        call = await _call_only(session, step)
        return call.language or step.conf.languages[0]

    return await _write(step, work)


async def _join(step: Step, *, queue_id: int) -> str:
    """The caller takes the last place of the queue; the inbox's agents hear it ring. Their
    first turn in the queue is taken in the same transaction."""

    async def work(session: AsyncSession) -> repository.Waiting:
        call, message = await _call(session, step)
        if call.state == "ivr":
            call.state, call.queue_id, call.enqueued_at = "queued", queue_id, utcnow()
            await calls.update_call(
                session, message, queue_id=queue_id or None, language=call.language
            )
            record(
                session,
                "call.ringing",
                {"message_id": message.id, "conversation_id": message.conversation_id,
                 "queue_id": queue_id or None,
                 "from_number": message.meta["call"].get("from_number")},
                inbox_id=message.inbox_id,
                conversation_id=message.conversation_id,
                customer_id=message.customer_id,
            )  # fmt: skip
        return await _turn(session, call)

    return _turn_twiml(step, await _write(step, work))


async def wait(step: Step) -> str:
    """The caller's turn in the queue: connected to the agent the conversation is assigned
    to (by routing or by an agent answering it), else their position and hold music."""

    async def work(session: AsyncSession) -> repository.Waiting:
        return await _turn(session, await _call_only(session, step))

    return _turn_twiml(step, await _write(step, work))


async def _turn(session: AsyncSession, call: VoiceCall) -> repository.Waiting:
    """A waiting call goes to the agent its conversation is assigned to (it is then
    connecting); one still waiting is told its position (read at the end of the batch)."""
    if call.state == "queued":
        conversation = await conversations_repository.get_conversation(
            session, call.conversation_id
        )
        if conversation is not None and conversation.assignee_id is not None:
            call.state, call.agent_id = "connecting", conversation.assignee_id
    return repository.Waiting(call)


def _turn_twiml(step: Step, turn: repository.Waiting) -> str:
    call, position, conf = turn.call, turn.position, step.conf
    lang = call.language or conf.languages[0]
    agent_id = call.agent_id
    if call.state == "connecting" and agent_id is not None:
        return step.line.twiml(
            ("connecting", lang, agent_id),
            lambda: ivr.connecting(conf, lang, step.hook, agent_id=agent_id),
        )
    if call.state == "queued":
        return step.line.twiml(
            ("holding", lang, position),
            lambda: ivr.holding(conf, lang, step.hook, position=position),
        )
    return ivr.HANGUP


async def hold_key(step: Step) -> str:
    """A key pressed while waiting: star asks for a callback (the caller keeps their place
    and hangs up); any other key goes on waiting."""
    if _digit(step) != ivr.CALLBACK_DIGIT:
        return await wait(step)

    async def work(session: AsyncSession) -> str | None:
        call, message = await _call(session, step)
        if call.state != "queued":
            return None
        call.state = "callback"
        await calls.update_call(session, message, status="missed", callback_requested=True)
        await calls.flag_callback(session, message, reason="callback_requested")
        return call.language

    lang = await _write(step, work)
    if not lang:
        return await wait(step)
    return step.line.twiml(("callback", lang), lambda: ivr.callback_taken(lang))


async def agent_answered(step: Step) -> str:
    """The agent's leg was answered: the call is answered (and so is the caller)."""
    if (step.params.get("CallStatus") or "") not in ("in-progress", "answered"):
        return "ignored"

    async def work(session: AsyncSession) -> str:
        call, message = await _call(session, step)
        if call.state not in ("connecting", "dialing"):
            return "ignored"
        now = utcnow()
        call.state, call.answered_at = "answered", now
        waited = int((now - (call.enqueued_at or call.created_at)).total_seconds())
        with session.no_autoflush:  # see _ended
            await calls.update_call(
                session, message, status="answered", agent_id=call.agent_id,
                wait_seconds=max(waited, 0),
            )  # fmt: skip
        return "answered"

    return await _write(step, work)


async def dialed(step: Step) -> str:
    """How the agent's leg ended: talked (the call ends) or not reached (back in the queue,
    keeping the place)."""
    status = (step.params.get("DialCallStatus") or "").strip()
    duration = seconds(step.params, "DialCallDuration")

    async def work(session: AsyncSession) -> bool:
        call, message = await _call(session, step)
        if status == "completed" and call.state in ("answered", "connecting"):
            await _ended(session, call, message, duration)
            return True
        if call.state == "connecting":
            if call.agent_id is not None:
                await calls.not_picked_up(session, message, agent_id=call.agent_id)
            call.state, call.agent_id = "queued", None
        return call.state in ("answered", "ended")

    if await _write(step, work):
        return ivr.HANGUP
    return await wait(step)


async def _ended(
    session: AsyncSession, call: VoiceCall, message: Message, duration: int | None
) -> None:
    now = utcnow()
    if call.answered_at is None:  # the agent-leg notice did not come: answered now
        call.answered_at = now
    call.state, call.ended_at = "ended", now
    if duration is None:
        duration = int((now - call.answered_at).total_seconds())
    waited = int((call.answered_at - (call.enqueued_at or call.created_at)).total_seconds())
    # The earlier messages it marks answered are not the call's rows: the call's changes are
    # flushed with the other steps of the batch, at commit, not before that statement.
    with session.no_autoflush:
        await calls.update_call(
            session, message, status="ended", agent_id=call.agent_id,
            duration_seconds=max(duration, 0), wait_seconds=max(waited, 0),
        )  # fmt: skip


async def voicemail_left(step: Step) -> str:
    """The caller recorded a voicemail (its file comes through the recording callback)."""
    duration = seconds(step.params, "RecordingDuration")

    async def work(session: AsyncSession) -> str:
        call, message = await _call(session, step)
        if call.state == "voicemail" and call.ended_at is None:
            call.ended_at = utcnow()
            await calls.update_call(session, message, status="voicemail", duration_seconds=duration)
            await calls.flag_callback(session, message, reason="voicemail")
        return call.language or step.conf.languages[0]

    lang = await _write(step, work)
    return step.line.twiml(("goodbye", lang), lambda: ivr.goodbye(lang))


async def call_status(step: Step) -> str:
    """The provider's status callback: a call that ends before an agent took it is missed
    (a callback task is made); an answered one ends; an outbound one rings, is answered."""
    status = one(step.params, "CallStatus", limit=30)
    duration = seconds(step.params, "CallDuration")

    async def work(session: AsyncSession) -> str:
        call, message = await _call(session, step)
        if call.direction == "outbound":
            return await _outbound_status(session, call, message, status, duration)
        if status not in FINAL:
            return "ignored"
        if call.state in ("ivr", "queued", "connecting"):
            call.state, call.ended_at = "missed", utcnow()
            await calls.update_call(session, message, status="missed")
            await calls.flag_callback(session, message, reason="missed")
            return "missed"
        if call.state == "answered":
            await _ended(session, call, message, None)
            return "ended"
        return "ignored"

    return await _write(step, work)


async def _outbound_status(
    session: AsyncSession, call: VoiceCall, message: Message, status: str, duration: int | None
) -> str:
    if call.state in ("ended", "missed"):
        return "ignored"
    if status == "in-progress" and call.state == "dialing":
        call.state, call.answered_at = "answered", utcnow()
        await calls.update_call(session, message, status="answered", agent_id=call.agent_id)
        return "answered"
    if status not in FINAL:
        return "ignored"
    if (status == "completed" and (duration or 0) > 0) or call.state == "answered":
        await _ended(session, call, message, duration)
        return "ended"
    call.state, call.ended_at = "missed", utcnow()
    await calls.update_call(session, message, status="missed")
    return "missed"


async def recording_ready(step: Step) -> str:
    """A recording (the conversation or a voicemail) is ready at the provider: fetched,
    stored and then deleted there by a job (once per recording)."""
    if (step.params.get("RecordingStatus") or "completed") != "completed":
        return "ignored"
    sid = one(step.params, "RecordingSid", limit=64)
    url = voice_channel.provider_file_url(step.inbox, one(step.params, "RecordingUrl", limit=500))

    async def work(session: AsyncSession) -> str | repository.Queued:
        call = await _call_only(session, step)
        if call.recording_sid == sid:
            return "duplicate"
        # Queued at the end of the batch, with the other steps' recordings (writer.settle).
        return repository.Queued(
            FETCH_RECORDING_JOB, f"{FETCH_RECORDING_JOB}:{step.inbox.id}:{sid}", call,
            {"inbox_id": step.inbox.id, "recording_sid": sid, "recording_url": url},
            answer="queued",
        )  # fmt: skip

    outcome = await _write(step, work)
    assert isinstance(outcome, str)  # settled into its answer
    return outcome


async def outbound_answered(step: Step) -> str:
    """The customer picked up a call an agent placed: ring that agent's softphone."""

    async def work(session: AsyncSession) -> tuple[int | None, str]:
        call = await _call_only(session, step)
        return call.agent_id, call.language or step.conf.languages[0]

    agent_id, lang = await _write(step, work)
    if agent_id is None:
        return ivr.HANGUP
    query = f"?call={step.query['call']}"
    return step.line.twiml(
        ("connecting", lang, agent_id, query),
        lambda: ivr.connecting(step.conf, lang, step.hook, agent_id=agent_id, query=query),
    )
