"""The workspace's list pane: views (mine / unassigned / my teams / all), saved views,
filters, counts, search and bulk actions. The list stays put while conversations open beside
it (conversation_views renders the other two panes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations.models import PRIORITIES, STATUSES, Conversation
from frontdesk.deps import SessionDep
from frontdesk.desk import repository as desk_repository
from frontdesk.desk import workspace
from frontdesk.desk.repository import VIEWS, InboxFilter, Listed
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit.events import last_sequence
from frontdesk.kit.i18n import format_number, format_when, language, translator
from frontdesk.web import sla_views
from frontdesk.web.rendering import PageAgent, ago, avatar_class, initials, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
# What a refused bulk change, saved view or macro tells the agent (by error code).
WORKSPACE_ERRORS = {
    "not_found": "One of the conversations is out of your reach: nothing was changed.",
    "forbidden": "You may not do that: ask an admin or a supervisor.",
    "invalid": "Some of what you entered is not valid.",
    "invalid_assignee": "That agent cannot take one of these conversations (not active, or "
    "not serving its inbox).",
}


def list_filter(request: Request) -> InboxFilter:
    q = request.query_params
    inbox = q.get("inbox", "")
    return InboxFilter(
        view=str(q.get("view")) if q.get("view") in VIEWS else "all",
        status=q.get("status", "open") if q.get("status", "open") in (*STATUSES, "") else "open",
        channel=q.get("channel") or None,
        inbox_id=int(inbox) if inbox.isdigit() else None,
        tag=q.get("tag") or None,
        priority=q.get("priority") if q.get("priority") in PRIORITIES else None,
        q=(q.get("q") or "").strip()[:200] or None,
        since=_moment(q.get("since")),
        until=_moment(q.get("until")),
        team_id=_number(q.get("team")),
        assignee_id=_number(q.get("agent")),
    )


def _moment(value: str | None) -> datetime | None:
    """An ISO time from a report's link (naive means UTC); anything else is no filter."""
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def view_query(f: InboxFilter, **override: object) -> str:
    params: dict[str, object] = {
        "view": f.view,
        "status": f.status or "",
        "channel": f.channel or "",
        "inbox": f.inbox_id or "",
        "tag": f.tag or "",
        "priority": f.priority or "",
        "q": f.q or "",
        "since": f.since.isoformat() if f.since else "",
        "until": f.until.isoformat() if f.until else "",
        "team": "" if f.team_id is None else f.team_id,
        "agent": "" if f.assignee_id is None else f.assignee_id,
    }
    params.update(override)
    return urlencode({k: v for k, v in params.items() if v != "" or k == "status"})


@dataclass(slots=True)
class Row:
    """One row of the list, with what it shows already written in the page's language.
    Attributes, not a dict: Jinja tries an attribute first (a dict answered each with an
    AttributeError raised and caught: ~2 ms of a 100-row list). The texts are written here,
    not by the template: each function call in a template goes through Jinja's
    `Context.call` first, and a row made a dozen (1,200 a page: ~2.5 ms of a list's render)."""

    conversation: Conversation
    inbox: Inbox | None
    tags: list[str]
    who: str  # the customer's name, else the word "Customer"
    named: bool  # whether the customer has a name
    href: str  # the conversation in the workspace, the list's query kept
    number: str  # the conversation's id and the customer's, in the language's digits
    customer_number: str
    avatar: str  # avatar_class, initials
    initials: str
    at: str  # the last message's time (else the opening's): ISO, written out, relative
    at_title: str
    ago: str
    preview: str  # the start of the last message
    status: str  # the status and priority, translated
    priority: str
    unanswered: bool  # the last message is the customer's, unanswered


def _row(
    listed: Listed,
    inbox: Inbox | None,
    tags: list[str],
    *,
    lang: str,
    gettext: Callable[..., str],
    list_query: str,
    now: datetime,
) -> Row:
    conversation, name = listed.conversation, listed.customer_name
    moment = conversation.last_message_at or conversation.created_at
    return Row(
        conversation=conversation,
        inbox=inbox,
        tags=tags,
        who=name or gettext("Customer"),
        named=bool(name),
        href=f"/conversations/{conversation.id}?{list_query}",
        number=format_number(conversation.id, lang),
        customer_number=format_number(conversation.customer_id, lang),
        avatar=avatar_class(conversation.customer_id),
        initials=initials(name) if name else "#",
        at=moment.isoformat(),
        at_title=format_when(moment, lang),
        ago=ago(moment, lang, now=now),
        preview=listed.preview or "",
        status=gettext(conversation.status),
        priority=gettext(conversation.priority),
        unanswered=listed.last_direction == "inbound" and not listed.last_answered,
    )


async def _rows(
    session: AsyncSession, agent: Agent, f: InboxFilter, *, opened: int | None = None
) -> dict[str, Any]:
    """The list's rows and counts; with `opened` (a conversation open beside the list), its
    SLA clocks too, read with the rows' (`sla_clocks`)."""
    visible = await visible_inbox_ids(session, agent)
    # The search runs once; the list and the four counts filter on its answer.
    matched = (
        await desk_repository.search_conversations(session, f.q, visible=visible) if f.q else None
    )
    rows = await desk_repository.list_view(
        session, agent_id=agent.id, visible=visible, f=f, limit=PAGE_SIZE, matched=matched
    )
    counts = await desk_repository.count_views(
        session, agent_id=agent.id, visible=visible, f=f, matched=matched
    )
    ids = [row.conversation.id for row in rows]
    tags = await conversations_repository.tag_names_by_conversation(session, ids)
    inboxes = {
        inbox.id: inbox
        for inbox in await inboxes_repository.list_inboxes(
            session, only=visible, after=None, limit=500
        )
    }
    lang = language(agent.language)
    gettext = translator(lang)
    list_query = view_query(f)
    now = datetime.now(UTC)
    items = [
        _row(
            row,
            inboxes.get(row.conversation.inbox_id),
            tags.get(row.conversation.id, []),
            lang=lang,
            gettext=gettext,
            list_query=list_query,
            now=now,
        )
        for row in rows
    ]
    clocks = await sla_views.clock_views(session, ids if opened is None else [*ids, opened])
    return {
        "items": items,
        "counts": counts,
        "count_cap": desk_repository.COUNT_CAP,
        "filter": f,
        "inboxes": list(inboxes.values()),
        "view_links": {view: "/?" + view_query(f, view=view) for view in VIEWS},
        "partial_url": "/partials/inbox?" + view_query(f),
        # Every link and form of the list keeps the list's query, so opening a conversation
        # (or going back) never loses the view, the filters or the search.
        "list_query": list_query,
        "sla_badges": sla_views.list_badges({cid: clocks[cid] for cid in ids if cid in clocks}),
        "sla_clocks": clocks.get(opened, []) if opened is not None else [],
    }


async def _share_teams(session: AsyncSession, agent: Agent) -> list[Any]:
    """The teams a view may be shared with: the agent's own (supervisors and admins: all)."""
    teams = await auth_repository.list_teams(session)
    if agent.sees_everything:
        return list(teams)
    mine = set(await auth_repository.agent_team_ids(session, agent.id))
    return [team for team in teams if team.id in mine]


async def workspace_context(
    request: Request, session: AsyncSession, agent: Agent, *, opened: int | None = None
) -> dict[str, Any]:
    """Everything the list pane needs on a full page (the inbox, or a conversation opened
    from it): rows, counts, filter choices, saved views, and the bulk bar's agents; with
    `opened`, that conversation's SLA clocks (see _rows)."""
    f = list_filter(request)
    context = await _rows(session, agent, f, opened=opened)
    context.update(
        statuses=STATUSES,
        priorities=PRIORITIES,
        views=VIEWS,
        tags=await desk_repository.all_tags(session),
        channels=sorted({inbox.channel for inbox in context["inboxes"]}),
        saved_views=await workspace.list_views(session, agent),
        teams=await _share_teams(session, agent),
        bulk_agents=[
            a
            for a in await auth_repository.list_agents(session, after=None, limit=1000)
            if a.active
        ],
        filtered=any(
            (f.channel, f.inbox_id, f.tag, f.priority, f.status != "open", f.since, f.until)
        ),
        bulk_error=request.query_params.get("bulk_error"),
        bulk_errors=WORKSPACE_ERRORS,
    )
    return context


@router.get("/", response_class=HTMLResponse)
async def inbox_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    # Read the resume point before the rows: an event committed in between is then replayed
    # (a harmless refresh) instead of being missed.
    since = await last_sequence(session)
    context = await workspace_context(request, session, agent)
    context.update(since=since, open_id=None)
    return render(request, "inbox.html", context, agent=agent)


@router.get("/partials/inbox", response_class=HTMLResponse)
async def inbox_rows(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    """The list and the view counts, re-rendered when live events arrive."""
    context = await _rows(session, agent, list_filter(request))
    open_id = request.query_params.get("open", "")
    context.update(views=VIEWS, open_id=int(open_id) if open_id.isdigit() else None)
    return render(request, "_inbox_rows.html", context, agent=agent)
