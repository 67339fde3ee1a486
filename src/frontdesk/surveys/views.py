"""Surveys API: the answers (agents see their inboxes' surveys), each inbox's survey
settings (admins), and the public answer route the chat widget's card posts to (the
survey's signed token is the only credential)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from frontdesk.deps import AdminAgent, CurrentAgent, RuntimeDep, SessionDep
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import openapi, uow
from frontdesk.kit.errors import FrontdeskError, Invalid, NotFound, error_body, invalid_input
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id
from frontdesk.kit.security import loads
from frontdesk.surveys import repository, service
from frontdesk.surveys.schemas import (
    Kind,
    SurveyAnswer,
    SurveyAnswered,
    SurveyConfigRead,
    SurveyConfigWrite,
    SurveyRead,
)

router = APIRouter(tags=["surveys"])
public_router = APIRouter(include_in_schema=False)
# The widget posts text/plain JSON from the customer's site (no preflight), like its other calls.
CORS = {"access-control-allow-origin": "*", "x-content-type-options": "nosniff"}


@router.get("/surveys", response_model=Page[SurveyRead])
async def list_surveys(
    session: SessionDep,
    agent: CurrentAgent,
    inbox_id: Id | None = None,
    kind: Kind | None = None,
    status: Literal["sent", "answered", "failed"] | None = None,
    low: bool | None = None,
    customer_id: Id | None = None,
    conversation_id: Id | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: int | None = None,
) -> Page[SurveyRead]:
    """Surveys of the inboxes the caller may see, newest first; `low=true`: the at-risk ones."""
    size = clamp_limit(limit)
    items = await repository.list_surveys(
        session, inbox_ids=await visible_inbox_ids(session, agent), inbox_id=inbox_id,
        kind=kind, status=status, low=low, customer_id=customer_id,
        conversation_id=conversation_id, since=since, until=until,
        before=decode_cursor(cursor), limit=size,
    )  # fmt: skip
    return Page(
        items=[SurveyRead.model_validate(item) for item in items],
        next_cursor=encode_cursor(items[-1].id) if len(items) == size else None,
    )


@router.get("/surveys/{survey_id}", response_model=SurveyRead)
async def get_survey(survey_id: Id, session: SessionDep, agent: CurrentAgent) -> SurveyRead:
    return SurveyRead.model_validate(await service.visible_survey(session, survey_id, agent=agent))


@router.get("/inboxes/{inbox_id}/survey", response_model=SurveyConfigRead)
async def get_config(inbox_id: Id, session: SessionDep, admin: AdminAgent) -> SurveyConfigRead:
    config = await repository.get_config(session, inbox_id)
    if config is None:
        raise NotFound("this inbox has no survey settings")
    return SurveyConfigRead.model_validate(config)


@router.put("/inboxes/{inbox_id}/survey", response_model=SurveyConfigRead)
async def put_config(
    inbox_id: Id, data: SurveyConfigWrite, session: SessionDep, admin: AdminAgent
) -> SurveyConfigRead:
    """Set the inbox's survey: kind, trigger, sampled share, dedupe window, expiry, alerts."""
    config = await service.configure(session, inbox_id, data)
    read = SurveyConfigRead.model_validate(config)
    await uow.commit(session)
    return read


@public_router.post("/surveys/answer", response_model=None, responses=openapi.errors(409))
async def answer(request: Request, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    """The widget card's score (and comment): 200 with the answer, or 409 `forged`,
    `expired`, `answered` (never a 500)."""
    try:
        data = _body(await request.body())
        found = await service.by_token(session, data.token, runtime.settings)
        survey = await service.answer(
            session, found.survey, score=data.score, comment=data.comment, via="widget"
        )
        read = SurveyAnswered(
            id=survey.id, kind=survey.kind, score=survey.score, comment=survey.comment
        )
        await uow.commit(session)
    except FrontdeskError as exc:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status, CORS)
    return JSONResponse(read.model_dump(), headers=CORS)


def _body(raw: bytes) -> SurveyAnswer:
    try:
        return SurveyAnswer.model_validate(loads(raw))
    except ValidationError as exc:
        raise invalid_input(exc.errors(), where=["body"]) from exc
    except ValueError as exc:
        raise Invalid(
            "the body is not JSON", details=[{"loc": ["body"], "msg": "not JSON"}]
        ) from exc
