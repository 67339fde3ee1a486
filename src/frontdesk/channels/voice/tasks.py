"""The voice channel's jobs: fetch a recording and keep it (then delete it at the provider),
and place an agent's outbound call (click-to-call)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from frontdesk.channels.voice import repository
from frontdesk.channels.voice.adapter import voice_channel
from frontdesk.channels.voice.service import FETCH_RECORDING_JOB
from frontdesk.conversations import calls, transcription
from frontdesk.conversations import repository as conversations_repository
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.cache import InboxCache
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import webhook_url
from frontdesk.inboxes.secrets import opened_cached, opened_inbox
from frontdesk.kit import http, jobs, uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.jobs import JobContext, PermanentJobError, handler
from frontdesk.kit.security import check_outbound_url

log = logging.getLogger(__name__)
DELETE_RECORDING_JOB = "voice.delete_recording"
DIAL_JOB = "voice.dial"
# Recordings are fetched as MP3 (a tenth of the WAV the bare URL serves).
RECORDING_FORMAT = ".mp3"


async def _inbox(ctx: JobContext, inbox_id: int) -> Inbox:
    """The inbox, secrets opened: from the process's inbox rows (a few seconds old at most,
    as the webhooks read it; no transaction), or read where no runtime keeps them."""
    cache: InboxCache | None = ctx.db.inboxes
    if cache is not None:
        cached = await cache.get(inbox_id)
        if cached is None:
            raise PermanentJobError("the inbox is gone")
        return opened_cached(cached, ctx.settings)  # opened once per cached row
    async with ctx.db.session() as session:
        inbox = await inboxes_repository.get_inbox(session, inbox_id)
        await session.commit()
    if inbox is None:
        raise PermanentJobError("the inbox is gone")
    return opened_inbox(inbox, ctx.settings)


@handler(FETCH_RECORDING_JOB, transactional=False)
async def fetch_recording(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Download the recording with the account's credentials (only from the provider's API
    host), store it as a blob on the call, then have it deleted at the provider."""
    sid = str(payload["recording_sid"])
    call_id = int(payload["call_id"])
    if "inbox_id" in payload and ctx.attempt == 1:
        # A first attempt: nothing of it is stored yet (`keep` checks again), so the call
        # need not be read before the download.
        inbox, stored = await _inbox(ctx, int(payload["inbox_id"])), False
    else:  # a retry (or a job queued without its inbox): the recording may be stored
        async with ctx.db.session() as session:
            call = await repository.get_call_by_id(session, call_id)
            row = await inboxes_repository.get_inbox(session, call.inbox_id) if call else None
            await session.commit()
        if call is None:
            return
        if row is None:
            raise PermanentJobError("the inbox is gone")
        inbox, stored = opened_inbox(row, ctx.settings), call.recording_sid == sid
    if not stored:
        url = voice_channel.provider_file_url(inbox, str(payload["recording_url"]))
        check_outbound_url(url, allow_private=ctx.settings.allow_private_webhooks)
        data, kind = await _download(
            inbox, url + RECORDING_FORMAT, ctx.settings.webhook_timeout_seconds
        )
        [key] = await BlobStore(ctx.settings.blob_dir).put_many_async([data])
        async with ctx.db.session() as session:

            async def keep() -> None:
                # The conversation is read with them: storing the recording updates it.
                found = await repository.call_with_message(session, call_id)
                if found is None or found[0].recording_sid == sid:
                    return  # stored meanwhile: once per recording
                found[0].recording_sid = sid
                await calls.attach_recording(
                    session, found[1], filename=f"call-{sid}{RECORDING_FORMAT}",
                    content_type=kind, size=len(data), blob_key=key,
                    transcribe=transcription.configured(ctx.settings.transcriber),
                )  # fmt: skip
                await jobs.enqueue(
                    session, DELETE_RECORDING_JOB,
                    {"inbox_id": inbox.id, "recording_sid": sid},
                    key=f"{DELETE_RECORDING_JOB}:{inbox.id}:{sid}",
                )  # fmt: skip

            await uow.retrying(session, keep)


async def _download(inbox: Inbox, url: str, timeout: float) -> tuple[bytes, str]:
    async with http.calls(timeout) as client:
        response = await client.get(url, auth=voice_channel.auth(inbox))
    if response.status_code == 404:
        raise PermanentJobError(f"the provider has no recording at {url}")
    response.raise_for_status()
    kind = response.headers.get("content-type", "audio/mpeg").split(";")[0].strip().lower()
    if not kind.startswith("audio/"):
        raise PermanentJobError(f"the recording is not audio ({kind})")
    return response.content, kind


@handler(DELETE_RECORDING_JOB, transactional=False)
async def delete_recording(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The recording is stored here (committed): delete the provider's copy."""
    inbox = await _inbox(ctx, int(payload["inbox_id"]))
    url = voice_channel.api(inbox, f"Recordings/{payload['recording_sid']}.json")
    check_outbound_url(url, allow_private=ctx.settings.allow_private_webhooks)
    async with http.calls(ctx.settings.webhook_timeout_seconds) as client:
        response = await client.request("DELETE", url, auth=voice_channel.auth(inbox))
    if response.status_code not in (200, 204, 404):  # 404: deleted already
        response.raise_for_status()
        raise RuntimeError(f"the provider answered {response.status_code}")


@handler(DIAL_JOB, transactional=False)
async def dial(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ask the provider to call the customer (Calls.json); when they pick up, our TwiML
    rings the agent. The provider's CallSid is kept on the call."""
    async with ctx.db.session() as session:
        call = await repository.get_call_by_id(session, int(payload["call_id"]))
        message = (
            await conversations_repository.get_message(session, call.message_id) if call else None
        )
        await session.commit()
    if call is None or message is None or not call.call_sid.startswith("pending:"):
        return
    inbox = await _inbox(ctx, call.inbox_id)
    hook = webhook_url(inbox, ctx.settings)
    assert hook is not None
    info = message.meta.get("call") or {}
    form = {
        "To": str(info.get("to_number")),
        "From": str(info.get("from_number")),
        "Url": f"{hook}/outbound?call={call.id}",
        "Method": "POST",
        "StatusCallback": f"{hook}/status?call={call.id}",
        "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": "initiated ringing answered completed",
    }
    url = voice_channel.api(inbox, "Calls.json")
    check_outbound_url(url, allow_private=ctx.settings.allow_private_webhooks)
    async with http.calls(ctx.settings.webhook_timeout_seconds) as client:
        response = await client.post(url, data=form, auth=voice_channel.auth(inbox))
    body = _json(response)
    if not response.is_success or not isinstance(body.get("sid"), str):
        words = body.get("message") or response.reason_phrase
        if 400 <= response.status_code < 500:
            await _failed(ctx, call.id, f"{response.status_code}: {words}")
            return
        raise RuntimeError(f"the provider answered {response.status_code}: {words}")
    async with ctx.db.session() as session:

        async def keep() -> None:
            row = await repository.get_call_by_id(session, call.id)
            if row is not None and row.call_sid.startswith("pending:"):
                row.call_sid = str(body["sid"])[:64]

        await uow.retrying(session, keep)


async def _failed(ctx: JobContext, call_id: int, reason: str) -> None:
    async with ctx.db.session() as session:

        async def keep() -> None:
            row = await repository.get_call_by_id(session, call_id)
            message = (
                await conversations_repository.get_message(session, row.message_id) if row else None
            )
            if row is None or message is None:
                return
            row.state = "missed"
            message.delivery_status, message.delivery_error = "failed", reason[:500]
            await calls.update_call(session, message, status="missed")

        await uow.retrying(session, keep)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
