"""The desktop's side of browser calls over HTTP: the recording, uploaded by the answering
agent's page in numbered chunks (PUT, idempotent: a retry of a chunk already kept answers
200 with `"duplicate": true`), then assembled on hang-up (POST …/finish) or, if the page
never says so, by the idle job (calls.ASSEMBLE_JOB). Playback goes through
/desk/attachments/{id}, which checks the conversation's visibility."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdesk.channels.webchat import calls
from frontdesk.deps import RuntimeDep, SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import Forbidden, TooLarge
from frontdesk.kit.schemas import Id
from frontdesk.web.rendering import PageAgent, check_csrf

router = APIRouter(include_in_schema=False)
# A chunk's number: from 0, bounded (an out-of-range number is the one validation error).
Seq = Annotated[int, Ge(0), Le(calls.MAX_CHUNKS - 1)]
CSRF_HEADER = "x-csrf-token"


@router.put("/desk/calls/{message_id}/recording/{seq}")
async def put_chunk(
    request: Request,
    message_id: Id,
    seq: Seq,
    session: SessionDep,
    agent: PageAgent,
    runtime: RuntimeDep,
) -> JSONResponse:
    """One chunk of the call's recording (the body: WebM bytes as MediaRecorder gave them)."""
    check_csrf(request, request.headers.get(CSRF_HEADER, ""))
    limit = runtime.settings.call_recording_chunk_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge("this chunk is too large", code="too_large")
    message = await calls.visible_call(session, message_id, agent=agent)
    chunk = calls.ChunkIn(
        seq=seq, content_type=request.headers.get("content-type", ""), data=await request.body()
    )
    stored = await calls.store_chunk(
        session, message, chunk, agent=agent, blobs=runtime.blobs, app=runtime.settings
    )
    await uow.commit(session)
    return JSONResponse({"seq": seq, "duplicate": not stored})


@router.post("/desk/calls/{message_id}/recording/finish")
async def finish_recording(
    request: Request, message_id: Id, session: SessionDep, agent: PageAgent, runtime: RuntimeDep
) -> JSONResponse:
    """The agent's page sent its last chunk: the recording is assembled now."""
    check_csrf(request, request.headers.get(CSRF_HEADER, ""))
    message = await calls.visible_call(session, message_id, agent=agent)
    if calls.call_of(message).get("agent_id") != agent.id:
        raise Forbidden("only the agent on the call uploads its recording", code="not_your_call")
    await calls.assemble(session, message, blobs=runtime.blobs)
    await uow.commit(session)
    return JSONResponse({"recording": calls.call_of(message).get("recording")})
