"""A conversation: the customer's cross-channel timeline, reply, notes, and the actions on
the conversation (status, priority, assignment, tags, snooze). Every route goes through
`conversations.get_or_raise`, which answers 404 for anything outside the agent's inboxes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.journey import Journey, journey
from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import attachments as files
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations import switching
from frontdesk.conversations.models import PRIORITIES, STATUSES, Attachment, Conversation
from frontdesk.conversations.schemas import ConversationUpdate, ReplyCreate, TemplateSend
from frontdesk.conversations.views import attachment_response, store_upload
from frontdesk.conversations.window import reply_window
from frontdesk.customers import repository as customers_repository
from frontdesk.customers import service as customers
from frontdesk.db import utcnow
from frontdesk.deps import RuntimeDep, SessionDep
from frontdesk.desk import repository as desk_repository
from frontdesk.desk import service as desk
from frontdesk.desk import workspace
from frontdesk.desk.schemas import known_zone
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes import templates as inbox_templates
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import adapter_for, find_adapter
from frontdesk.inboxes.schemas import TemplateRead
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, Invalid
from frontdesk.kit.events import last_sequence
from frontdesk.kit.i18n import translator
from frontdesk.kit.schemas import MAX_ID, Id
from frontdesk.kit.sms import count_segments
from frontdesk.runtime import Runtime
from frontdesk.web import sla_views
from frontdesk.web.activity_text import activity_lines
from frontdesk.web.form_errors import error_text, window_rule
from frontdesk.web.inbox_views import list_filter, view_query, workspace_context
from frontdesk.web.journey_chart import journey_chart
from frontdesk.web.rendering import PageAgent, check_csrf, render, secure_headers

router = APIRouter(include_in_schema=False)
TIMELINE_LIMIT = 500
PAST_LIMIT = 20  # the customer panel's past conversations (at most journey.MAX_STAGES)


async def _timeline(
    session: AsyncSession, conversation: Conversation, agent: Agent
) -> list[dict[str, Any]]:
    """Every message of the customer on every channel the agent may see, interleaved with
    this conversation's internal notes, oldest first."""
    visible = await visible_inbox_ids(session, agent)
    messages = await desk_repository.timeline_with_files(
        session, conversation.customer_id, inbox_ids=visible, limit=TIMELINE_LIMIT
    )
    agents = {a.id: a for a in await auth_repository.list_agents(session, after=None, limit=1000)}
    entries: list[dict[str, Any]] = [
        {
            "kind": "message",
            "at": m.created_at,
            "m": m,
            "files": attached,
            "author": agents.get(m.author_agent_id) if m.author_agent_id else None,
            "here": m.conversation_id == conversation.id,
        }
        for m, attached in messages
    ]
    for note, attached in await desk_repository.notes_with_files(session, conversation.id):
        entries.append(
            {
                "kind": "note",
                "at": note.created_at,
                "note": note,
                "files": attached,
                "author": agents.get(note.agent_id or 0),
            }
        )
    entries += await activity_lines(session, conversation, agent, agents)
    entries.sort(key=lambda entry: entry["at"])
    return entries


async def _context(
    session: AsyncSession, conversation: Conversation, agent: Agent, *, tags: list[str]
) -> dict[str, Any]:
    customer = await customers.of_visible_conversation(session, conversation, agent=agent)
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    visible = await visible_inbox_ids(session, agent)
    identities = await customers_repository.identities_of(session, customer.id)
    email = next((i.address for i in identities if i.kind == "email"), None)
    canned = await desk.list_canned(session, agent)
    assert inbox is not None
    window = await reply_window(session, conversation, inbox)
    adapter = adapter_for(inbox.channel)
    beyond = getattr(adapter, "outside_window", None)
    offered = await _approved_templates(session, inbox)
    path = await journey(session, customer.id, visible=visible)
    return {
        "window": window,
        "window_rule": window_rule(inbox.channel),
        # Past the window the channel may still take a reply (a message tag): the box stays.
        "can_reply": window.open
        or (beyond is not None and window.elapsed is not None and beyond(inbox, window.elapsed)),
        "reach": await _reply_on(session, conversation, agent),
        "templates": offered,
        "conversation": conversation,
        "customer": customer,
        "inbox": inbox,
        # The reply box counts SMS segments as the agent types (channels that carry SMS).
        "sms_segments": adapter.capabilities.sms_segments,
        "counted": count_segments(""),
        "identities": identities,
        "timeline": await _timeline(session, conversation, agent),
        "tags": tags,
        "agents": [
            a
            for a in await auth_repository.list_agents(session, after=None, limit=1000)
            if a.active
        ],
        "past": _past(path),
        "journey": journey_chart(path, lang=agent.language, now=utcnow(), current=conversation.id),
        "canned": [
            {
                **item.model_dump(),
                "filled": desk.fill_variables(
                    item.text,
                    customer=customer,
                    agent=agent,
                    conversation=conversation,
                    email=email,
                ),
            }
            for item in canned
        ],
        "statuses": STATUSES,
        "priorities": PRIORITIES,
    }


def _past(path: Journey) -> list[dict[str, Any]]:
    """The customer panel's past conversations, newest first: the journey's latest
    PAST_LIMIT stages (it reads the same conversations, by id, in the same inboxes)."""
    latest = sorted(path.stages, key=lambda stage: stage.conversation_id, reverse=True)
    return [
        {"id": stage.conversation_id, "status": stage.status, "created_at": stage.start}
        for stage in latest[:PAST_LIMIT]
    ]


async def _approved_templates(session: AsyncSession, inbox: Inbox) -> list[TemplateRead]:
    """The inbox's approved templates, where its channel has templates (WhatsApp)."""
    if not adapter_for(inbox.channel).capabilities.templates:
        return []
    return [
        inbox_templates.read(t)
        for t in await inboxes_repository.list_templates(session, inbox.id)
        if t.status == "approved"
    ]


async def _reply_on(
    session: AsyncSession, conversation: Conversation, agent: Agent
) -> list[dict[str, Any]]:
    """The "Reply on" choices: the customer's other reachable inboxes, each with its state
    and, where that channel's window has closed and only templates may go, its templates."""
    choices = []
    for reach in await switching.reachable(session, conversation, agent=agent):
        rule = window_rule(reach.inbox.channel)
        offered = (
            await _approved_templates(session, reach.inbox)
            if rule == "templates" and reach.state == "window_closed"
            else []
        )
        choices.append(
            {
                "reach": reach,
                "rule": rule,
                "value": f"{reach.inbox.id}:{reach.identity.id if reach.identity else ''}",
                "templates": offered,
                # Bidi-isolated (FSI … PDI): an <option> holds text only, so no <bdi>.
                "address": f"\u2068{reach.identity.address}\u2069" if reach.identity else "",
            }
        )
    return choices


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    request: Request, conversation_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    """The workspace with this conversation open: the list (its view and filters from the
    query string), the conversation and its context. The list opens conversations with htmx
    (HX-Target fd-pane): those requests get the two right-hand panes only."""
    # The event log's sequence before the reads (see inbox_page), and with it the conversation,
    # its customer, inbox and tags: the `get`s below find them in the session while `opened`
    # holds them.
    opened = await desk_repository.open_conversation(session, conversation_id)
    since = opened.sequence if opened is not None else await last_sequence(session)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    tags = (
        opened.tags
        if opened is not None
        else await conversations_repository.tag_names(session, conversation.id)
    )
    # A GET changes nothing: the page POSTs to mentions/read once it is open (below).
    context = await _context(session, conversation, agent, tags=tags)
    context["since"] = since
    context["error"] = request.query_params.get("error")
    # STUN/TURN servers for browser calls (the webchat call panel).
    context["ice_servers"] = json.dumps(request.app.state.runtime.settings.ice_servers)
    # A refusal of a reply on another channel names that channel (`on`); else this one's.
    on = request.query_params.get("on") or context["inbox"].channel
    context["error_text"] = error_text(context["error"], on if find_adapter(on) else None)
    context.update(await _workspace_extras(session, conversation, agent))
    pane_only = (
        request.headers.get("hx-request")
        and request.headers.get("hx-target") == "fd-pane"
        and not request.headers.get("hx-history-restore-request")
    )
    if pane_only:
        context["list_query"] = view_query(list_filter(request))
        context["sla_clocks"] = (await sla_views.clock_views(session, [conversation.id])).get(
            conversation.id, []
        )
        return render(request, "_conversation_pane.html", context, agent=agent)
    # The list reads this conversation's SLA clocks with its rows' (one read for both).
    context.update(await workspace_context(request, session, agent, opened=conversation.id))
    context["open_id"] = conversation.id
    return render(request, "inbox.html", context, agent=agent)


async def _workspace_extras(
    session: AsyncSession, conversation: Conversation, agent: Agent
) -> dict[str, Any]:
    """The header's macros, assignee and the agent's time zone (for the snooze picker)."""
    prefs = await workspace.preferences(session, agent)
    assignee = (
        await auth_repository.get_agent(session, conversation.assignee_id)
        if conversation.assignee_id
        else None
    )
    return {
        "macros": await workspace.list_macros(session, agent),
        "assignee": assignee,
        "time_zone": prefs.time_zone,
    }


@router.get("/conversations/{conversation_id}/header", response_class=HTMLResponse)
async def header_partial(
    request: Request, conversation_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    """The compact header and its toolbar, re-rendered on live events."""
    # One read for the conversation, its customer, inbox and tags (see conversation_page).
    opened = await desk_repository.open_conversation(session, conversation_id)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    customer = await customers.of_visible_conversation(session, conversation, agent=agent)
    context: dict[str, Any] = {
        "conversation": conversation,
        "customer": customer,
        "inbox": await inboxes_repository.get_inbox(session, conversation.inbox_id),
        "tags": (
            opened.tags
            if opened is not None
            else await conversations_repository.tag_names(session, conversation.id)
        ),
        "agents": [
            a
            for a in await auth_repository.list_agents(session, after=None, limit=1000)
            if a.active
        ],
        "statuses": STATUSES,
        "priorities": PRIORITIES,
    }
    context.update(await _workspace_extras(session, conversation, agent))
    return render(request, "_conversation_head.html", context, agent=agent)


@router.post("/conversations/{conversation_id}/mentions/read")
async def read_mentions_here(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    """Opening a conversation reads the agent's mentions in it and tells the customer's
    provider that their message was read (where the channel has read receipts): the page
    posts here when it has loaded (htmx), and the header badge refreshes."""
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)

    # Two agents opening it at once race on the read job's key: the loser runs again.
    async def opened() -> None:
        await desk.mark_mentions_read(session, agent, conversation_id=conversation.id)
        await conversations.opened_by_agent(session, conversation)

    await uow.retrying(session, opened)
    response = Response(status_code=204, headers={"hx-trigger": "fd:mentions"})
    secure_headers(response)
    return response


@router.get("/conversations/{conversation_id}/timeline", response_class=HTMLResponse)
async def timeline_partial(
    request: Request, conversation_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    return render(
        request,
        "_timeline.html",
        {"conversation": conversation, "timeline": await _timeline(session, conversation, agent)},
        agent=agent,
    )


@router.get("/conversations/{conversation_id}/sms-segments", response_class=HTMLResponse)
async def sms_segments_partial(
    request: Request, conversation_id: Id, session: SessionDep, agent: PageAgent, text: str = ""
) -> HTMLResponse:
    """The reply box's SMS counter: characters, segments and encoding of the text so far."""
    await conversations.get_or_raise(session, conversation_id, agent=agent)
    return render(
        request, "_sms_segments.html", {"counted": count_segments(text[:20_000])}, agent=agent
    )


def _done(
    request: Request,
    conversation_id: Id,
    error: str | None = None,
    *,
    lang: str = "en",
    channel: str | None = None,
    moved_to: int | None = None,
) -> Response:
    """The answer to a desktop form: refresh (htmx) or back to the page; an error in the
    agent's language, for the channel it came from; `moved_to` the conversation a reply on
    another channel landed in (the agent is taken there)."""
    query = f"?error={error}" + (f"&on={quote(channel)}" if channel else "") if error else ""
    url = f"/conversations/{moved_to or conversation_id}{query}"
    if request.headers.get("hx-request"):
        response = Response(status_code=204, headers={"hx-trigger": "fd:refresh"})
        if moved_to:
            response.headers["hx-redirect"] = url
        if error:
            known = error_text(error, channel)
            text = f"{translator(lang)(known)} ({error})" if known else error
            response = Response(text, status_code=422, media_type="text/plain")
        secure_headers(response)
        return response
    return RedirectResponse(url, status_code=303)


async def _uploads(
    session: AsyncSession,
    conversation: Conversation,
    agent: Agent,
    runtime: Runtime,
    uploads: list[UploadFile],
) -> list[Attachment]:
    """The form's files as pending uploads (an empty file input sends one nameless part)."""
    chosen = [item for item in uploads if item.filename]
    if len(chosen) > files.MAX_PER_MESSAGE:
        raise Invalid(f"at most {files.MAX_PER_MESSAGE} files per message", code="too_many_files")
    return [await store_upload(session, conversation, agent, item, runtime) for item in chosen]


@router.post("/conversations/{conversation_id}/reply")
async def reply_form(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form()],
    text: Annotated[str, Form()] = "",
    identity_id: Annotated[str, Form()] = "",
    reply_on: Annotated[str, Form()] = "",
    attach: Annotated[list[UploadFile], File()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """A reply, here or — with `reply_on` "INBOX:IDENTITY" from the "Reply on" list — on
    another of the customer's channels (the agent is then taken to that conversation)."""
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    inbox_id, _, on_identity = reply_on.partition(":")
    chosen = on_identity if inbox_id else identity_id
    try:
        data = ReplyCreate(
            text=text,
            inbox_id=int(inbox_id) if inbox_id.isdigit() else None,
            identity_id=int(chosen) if chosen.isdigit() else None,
        )
    except ValidationError:
        return _done(request, conversation_id, "invalid", lang=agent.language)
    channel = await _channel_of(session, data.inbox_id or conversation.inbox_id)
    try:
        taken = await _uploads(session, conversation, agent, runtime, attach)
        message = await conversations.reply(
            session, conversation, author=agent, data=data, attachments=taken
        )
    except FrontdeskError as exc:
        return _done(request, conversation_id, exc.code, lang=agent.language, channel=channel)
    await uow.commit(session)
    moved = message.conversation_id if message.conversation_id != conversation.id else None
    return _done(request, conversation_id, moved_to=moved)


def _id_or_none(value: str) -> int | None:
    """A form's id ("12"), or None when it is empty or not an id."""
    if not (value.isdigit() and len(value) <= 10):
        return None
    return int(value) if 1 <= int(value) <= MAX_ID else None


async def _channel_of(session: AsyncSession, inbox_id: int) -> str | None:
    inbox = await inboxes_repository.get_inbox(session, inbox_id)
    return inbox.channel if inbox is not None else None


@router.post("/conversations/{conversation_id}/template")
async def template_form(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
    template: Annotated[str, Form()] = "",
    parameters: Annotated[str, Form()] = "",
    reply_on: Annotated[str, Form()] = "",
) -> Response:
    """Send one of the inbox's approved templates (the only reply once the window closed);
    `template` is "name:language", `parameters` one per line. With `reply_on`
    "INBOX:IDENTITY" (the "Reply on" list) the template is one of that inbox's, sent on that
    channel (the agent is then taken to that conversation)."""
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    name, _, language = template.partition(":")
    values = [line.strip() for line in parameters.splitlines() if line.strip()]
    inbox_id, _, on_identity = reply_on.partition(":")
    target, identity_id = _id_or_none(inbox_id), _id_or_none(on_identity)
    if (inbox_id and target is None) or (on_identity and identity_id is None):
        return _done(request, conversation_id, "invalid", lang=agent.language)
    channel = await _channel_of(session, target or conversation.inbox_id)
    try:
        chosen = TemplateSend(name=name or "-", language=language or "--", parameters=values)
        data = ReplyCreate(template=chosen, inbox_id=target, identity_id=identity_id)
        message = await conversations.reply(session, conversation, author=agent, data=data)
    except FrontdeskError as exc:
        return _done(request, conversation_id, exc.code, lang=agent.language, channel=channel)
    except ValueError:
        return _done(request, conversation_id, "unknown_template", lang=agent.language)
    await uow.commit(session)
    moved = message.conversation_id if message.conversation_id != conversation.id else None
    return _done(request, conversation_id, moved_to=moved)


@router.post("/conversations/{conversation_id}/note")
async def note_form(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form()],
    text: Annotated[str, Form()] = "",
    attach: Annotated[list[UploadFile], File()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    try:
        taken = await _uploads(session, conversation, agent, runtime, attach)
        await desk.add_note(session, conversation, author=agent, text=text, attachments=taken)
    except FrontdeskError as exc:
        return _done(request, conversation_id, exc.code, lang=agent.language)
    await uow.commit(session)
    return _done(request, conversation_id)


def _snooze_until(value: str, at: str = "", zone: str = "UTC") -> datetime | None:
    """A preset (1h, 4h, 1d), or `at` (the picker's local date and time, read in the agent's
    time zone `zone`; an ISO time with an offset keeps its offset)."""
    presets = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1)}
    if value in presets:
        return datetime.now().astimezone() + presets[value]
    picked = at or (value if value != "at" else "")
    try:
        moment = datetime.fromisoformat(picked) if picked else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone if known_zone(zone) else "UTC"))
    return moment


@router.post("/conversations/{conversation_id}/update")
async def update_form(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
    status: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    assignee: Annotated[str, Form()] = "-",
    tags: Annotated[str | None, Form()] = None,
    snooze: Annotated[str, Form()] = "",
    snooze_at: Annotated[str, Form()] = "",
    tz: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    if snooze_at and not snooze:
        snooze = "at"
    changes: dict[str, Any] = {}
    if status:
        changes["status"] = status
    if priority:
        changes["priority"] = priority
    if assignee != "-":
        changes["assignee_id"] = int(assignee) if assignee.isdigit() else None
    if tags is not None:
        changes["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    if snooze:
        zone = tz or (await workspace.preferences(session, agent)).time_zone
        until = _snooze_until(snooze, snooze_at, zone)
        if until is None:
            return _done(request, conversation_id, "invalid_snooze", lang=agent.language)
        if until <= utcnow():
            return _done(request, conversation_id, "snooze_in_past", lang=agent.language)
        changes["status"], changes["snoozed_until"] = "snoozed", until
    try:
        data = ConversationUpdate.model_validate(changes)
        await conversations.update(session, conversation, data, by=agent)
    except (FrontdeskError, ValueError) as exc:
        return _done(request, conversation_id, getattr(exc, "code", "invalid"))
    await uow.commit(session)
    return _done(request, conversation_id)


@router.get("/desk/attachments/{attachment_id}")
async def attachment(
    attachment_id: Id, session: SessionDep, agent: PageAgent, runtime: RuntimeDep
) -> Response:
    """A file as visible as its conversation; safe images inline, everything else downloads."""
    item = await files.get_or_raise(session, attachment_id, agent=agent)
    return attachment_response(runtime.blobs.get(item.blob_key), item, preview=True)
