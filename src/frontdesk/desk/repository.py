"""All SQL of the agent desktop: the inbox views, canned responses and mentions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    any_,
    bindparam,
    cast,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent, TeamMember
from frontdesk.conversations.models import (
    Attachment,
    Conversation,
    ConversationTag,
    Message,
    Note,
    Tag,
)
from frontdesk.customers.models import Customer, Identity
from frontdesk.desk.models import (
    CannedResponse,
    Macro,
    Mention,
    SavedView,
    WorkspacePreference,
)
from frontdesk.inboxes.models import Inbox, InboxTeam
from frontdesk.kit import memo
from frontdesk.kit.events import Event
from frontdesk.kit.text import search_tokens
from frontdesk.routing.models import AgentPresence

VIEWS = ("mine", "unassigned", "teams", "all")
_Row = TypeVar("_Row", Message, Note)
_LIKE_SPECIAL = re.compile(r"[\\%_]")


@dataclass
class InboxFilter:
    view: str = "all"
    status: str | None = "open"
    channel: str | None = None
    inbox_id: int | None = None
    tag: str | None = None
    priority: str | None = None
    q: str | None = None
    # From the reports' charts: conversations opened in [since, until), of a team or agent
    # (0 = none).
    since: datetime | None = None
    until: datetime | None = None
    team_id: int | None = None
    assignee_id: int | None = None


@dataclass(frozen=True, slots=True)
class TeamScope:
    """The agent's teams and the inboxes those teams serve: the "teams" view's conversations
    are those of these teams or in these inboxes."""

    team_ids: frozenset[int]
    inbox_ids: frozenset[int]


async def team_scope(session: AsyncSession, agent_id: int) -> TeamScope:
    """The agent's TeamScope, one statement (read once per transaction). The teams view
    filters on the ids themselves: as `IN (subquery)`s ORed together the planner walked every
    open conversation to count the view (7.8 ms at 1M messages for an agent in no team); with
    the ids it knows an empty view for what it is and uses the indexes otherwise."""

    async def load() -> TeamScope:
        rows = await session.execute(
            select(TeamMember.team_id, InboxTeam.inbox_id)
            .outerjoin(InboxTeam, InboxTeam.team_id == TeamMember.team_id)
            .where(TeamMember.agent_id == agent_id)
        )
        pairs = rows.all()
        return TeamScope(
            frozenset(team for team, _ in pairs),
            frozenset(inbox for _, inbox in pairs if inbox is not None),
        )

    return await memo.once(session, ("desk.team_scope", agent_id), load)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What decides a view's statement's text (not its values): the statements are built
    once per shape (_view_query) and take the filter's values as parameters (_view_params).
    Building the list's statement and the four capped counts, with their cache keys, was
    ~1.2 ms of CPU per page, every page, for the same few shapes."""

    dialect: str
    view: str
    visible: bool  # the agent sees some inboxes only
    status: bool
    priority: bool
    inbox: bool
    since: bool
    until: bool
    team: int  # 0: no filter, 1: a team, 2: no team (team_id 0)
    assignee: int  # as `team`
    channel: bool
    tag: bool
    matched: bool  # the search's answer
    teams: bool  # the agent is in a team (the teams view)


def _shape(
    session: AsyncSession,
    visible: set[int] | None,
    view: str,
    f: InboxFilter,
    matched: Sequence[int] | None,
    teams: TeamScope | None,
) -> _Shape:
    if view == "teams" and teams is None:
        raise ValueError("the teams view needs the agent's TeamScope")
    return _Shape(
        dialect=session.get_bind().dialect.name,
        view=view,
        visible=visible is not None,
        status=bool(f.status),
        priority=bool(f.priority),
        inbox=f.inbox_id is not None,
        since=f.since is not None,
        until=f.until is not None,
        team=0 if f.team_id is None else 1 if f.team_id else 2,
        assignee=0 if f.assignee_id is None else 1 if f.assignee_id else 2,
        channel=bool(f.channel),
        tag=bool(f.tag),
        matched=matched is not None,
        teams=bool(teams and teams.team_ids),
    )


def _view_params(
    agent_id: int,
    visible: set[int] | None,
    f: InboxFilter,
    matched: Sequence[int] | None,
    teams: TeamScope | None,
) -> dict[str, Any]:
    """The values of a _view_query statement's parameters (a statement ignores the unused)."""
    return {
        "agent_id": agent_id,
        "visible": sorted(visible or {-1}),
        "status": f.status,
        "priority": f.priority,
        "inbox_id": f.inbox_id,
        "since": f.since,
        "until": f.until,
        "team_id": f.team_id,
        "assignee_id": f.assignee_id,
        "channel": f.channel,
        "tag": f.tag,
        "matched": list(matched or [-1]),
        "team_ids": sorted(teams.team_ids) if teams else [],
        "team_inbox_ids": sorted(teams.inbox_ids or {-1}) if teams else [-1],
    }


def _among_ids(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """`column IN :name`, a list of ids: one array parameter on PostgreSQL (the text does
    not change with the number of ids: see kit.sql.in_ids), expanding elsewhere."""
    if dialect == "postgresql":
        result: ColumnElement[bool] = column == any_(bindparam(name, type_=ARRAY(Integer)))
        return result
    return column.in_(bindparam(name, expanding=True))


def _base(shape: _Shape) -> Select[Any]:
    """The filter's conversations in a view, its values as parameters (_view_params);
    `matched` is the search's answer (see search_conversations), run once per page and
    shared by the list and the counts; the teams view filters on the agent's TeamScope."""
    query = select(Conversation)
    if shape.visible:
        query = query.where(_among_ids(shape.dialect, Conversation.inbox_id, "visible"))
    if shape.view != "all":
        query = query.where(_in_view(shape))
    if shape.status:
        query = query.where(Conversation.status == bindparam("status"))
    if shape.priority:
        query = query.where(Conversation.priority == bindparam("priority"))
    if shape.inbox:
        query = query.where(Conversation.inbox_id == bindparam("inbox_id"))
    if shape.since:
        query = query.where(Conversation.created_at >= bindparam("since"))
    if shape.until:
        query = query.where(Conversation.created_at < bindparam("until"))
    if shape.team:
        query = query.where(
            Conversation.team_id == bindparam("team_id")
            if shape.team == 1
            else Conversation.team_id.is_(None)
        )
    if shape.assignee:
        query = query.where(
            Conversation.assignee_id == bindparam("assignee_id")
            if shape.assignee == 1
            else Conversation.assignee_id.is_(None)
        )
    if shape.channel:
        query = query.where(
            Conversation.inbox_id.in_(select(Inbox.id).where(Inbox.channel == bindparam("channel")))
        )
    if shape.tag:
        query = query.where(
            exists().where(
                ConversationTag.conversation_id == Conversation.id,
                ConversationTag.tag_id == Tag.id,
                Tag.name == bindparam("tag"),
            )
        )
    if shape.matched:
        query = query.where(_among_ids(shape.dialect, Conversation.id, "matched"))
    return query


def _in_view(shape: _Shape) -> ColumnElement[bool]:
    if shape.view == "mine":
        return Conversation.assignee_id == bindparam("agent_id")
    if shape.view == "unassigned":
        return Conversation.assignee_id.is_(None)
    if not shape.teams:  # no team, so no inbox served by one either
        return false()
    return or_(
        _among_ids(shape.dialect, Conversation.team_id, "team_ids"),
        _among_ids(shape.dialect, Conversation.inbox_id, "team_inbox_ids"),
    )


class Listed(NamedTuple):
    """A row of the list: the conversation, its customer's name and what the row shows of
    its last message (None: no message)."""

    conversation: Conversation
    customer_name: str | None
    preview: str | None  # the last message's first PREVIEW characters
    last_direction: str | None
    last_answered: bool | None


PREVIEW = 120


async def list_view(
    session: AsyncSession,
    *,
    agent_id: int,
    visible: set[int] | None,
    f: InboxFilter,
    limit: int,
    matched: Sequence[int] | None = None,
) -> list[Listed]:
    """A view's page of conversations, newest first, with their customers' names and their
    last messages' previews in the same statement (three before; the rows as columns, not
    as customers and messages with their JSON)."""
    # Uses index: ix_conversations_status_sort (sort_at is coalesce(last_message_at,
    # created_at), stored); then per listed row pk_customers and ix_messages_conversation
    # (conversation_id, id: the last message's id is one backward probe).
    teams = await team_scope(session, agent_id) if f.view == "teams" else None
    query = _list_query(_shape(session, visible, f.view, f, matched, teams), limit)
    rows = await session.execute(query, _view_params(agent_id, visible, f, matched, teams))
    return [Listed(*row) for row in rows.all()]


@lru_cache(maxsize=64)
def _list_query(shape: _Shape, limit: int) -> Select[Any]:
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    return (
        _base(shape)
        .add_columns(
            Customer.name,
            func.substr(Message.text, 1, PREVIEW),
            Message.direction,
            Message.answered,
        )
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(Message, Message.id == latest)
        .order_by(Conversation.sort_at.desc(), Conversation.id.desc())
        .limit(limit)
    )


# A view's count stops here (the list shows "1,000+"): counting is then bounded by the cap,
# not by the size of the desk (43,000 open conversations at 1M messages: bench/desk.py).
COUNT_CAP = 1000


async def count_views(
    session: AsyncSession,
    *,
    agent_id: int,
    visible: set[int] | None,
    f: InboxFilter,
    matched: Sequence[int] | None = None,
) -> dict[str, int]:
    """Every view's count, each at most COUNT_CAP + 1 (more than the cap: "1,000+"), in one
    statement: a capped count per view, each reading at most that many index entries."""
    teams = await team_scope(session, agent_id)
    shapes = tuple(_shape(session, visible, view, f, matched, teams) for view in VIEWS)
    row = (
        await session.execute(
            _count_query(shapes), _view_params(agent_id, visible, f, matched, teams)
        )
    ).one()
    return {view: int(count) for view, count in zip(VIEWS, row, strict=True)}


@lru_cache(maxsize=64)
def _count_query(shapes: tuple[_Shape, ...]) -> Select[Any]:
    return select(
        *(
            select(func.count())
            .select_from(
                _base(shape).with_only_columns(Conversation.id).limit(COUNT_CAP + 1).subquery()
            )
            .scalar_subquery()
            for shape in shapes
        )
    )


# --- Search ------------------------------------------------------------------------------

# The PostgreSQL full-text document, exactly as migration 0036's GIN index has it.
PG_MESSAGE_DOCUMENT = "to_tsvector('simple', search_key)"
# A search answers at most this many conversations (newest first): the list shows 100, and
# the view counts count within these.
SEARCH_DEPTH = 1000


def _message_match(session: AsyncSession, tokens: list[str]) -> Select[Any]:
    """Ids of conversations with a message holding every token (search keys); the last one
    may be a word's beginning (as typed so far), from three letters."""
    last_prefix = len(tokens[-1]) >= 3
    if session.get_bind().dialect.name == "postgresql":
        terms = [f"'{token}'" for token in tokens]  # tokens are letters, digits and marks only
        if last_prefix:
            terms[-1] += ":*"
        match = text(f"{PG_MESSAGE_DOCUMENT} @@ to_tsquery('simple', :fts_query)").bindparams(
            fts_query=" & ".join(terms)
        )
        return select(Message.conversation_id).where(match)
    terms = [f'"{token}"' for token in tokens]
    if last_prefix:
        terms[-1] += "*"
    rowids: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(text("messages_fts"))
        .where(text("messages_fts MATCH :fts_query").bindparams(fts_query=" ".join(terms)))
    )
    return select(Message.conversation_id).where(Message.id.in_(rowids))


async def search_conversations(
    session: AsyncSession, q: str, *, visible: set[int] | None
) -> list[int]:
    """Conversations the agent may see whose messages hold every word of `q` (full text,
    Arabic and Persian variants folded), or whose customer's name or address, subject or a
    tag contains `q`: one statement, newest conversations first, at most SEARCH_DEPTH."""
    needle = "%" + _LIKE_SPECIAL.sub(r"\\\g<0>", q.lower()) + "%"

    def like(column: Any) -> ColumnElement[bool]:
        # Uses index: the trigram indexes of migration 0036 on PostgreSQL.
        return func.lower(column).like(needle, escape="\\")

    branches: list[Select[Any]] = [
        select(Conversation.id).where(
            Conversation.customer_id.in_(select(Customer.id).where(like(Customer.name)))
        ),
        select(Conversation.id).where(
            Conversation.customer_id.in_(select(Identity.customer_id).where(like(Identity.address)))
        ),
        select(Conversation.id).where(like(Conversation.subject)),
        select(ConversationTag.conversation_id).where(
            ConversationTag.tag_id.in_(select(Tag.id).where(like(Tag.name)))
        ),
    ]
    tokens = search_tokens(q)
    if tokens:
        branches.append(_message_match(session, tokens))
    found = union(*branches).subquery()
    if visible is None:  # the ids are the answer: no join back to conversations
        query = select(found.c[0]).order_by(found.c[0].desc())
    else:
        query = (
            select(Conversation.id)
            .where(_among(session, Conversation.id, found))
            .where(Conversation.inbox_id.in_(visible or {-1}))
            .order_by(Conversation.id.desc())
        )
    return list((await session.scalars(query.limit(SEARCH_DEPTH))).all())


def _among(session: AsyncSession, column: Any, found: Any) -> ColumnElement[bool]:
    """`column IN found`. On PostgreSQL as `= ANY(<the ids as one array>)`: computed once,
    then looked up by primary key. As an IN, the planner (guessing ~1,000 full-text matches)
    merged the matches with the whole primary key walked backwards, or hashed every visible
    conversation (27-140 ms at 1M messages for one match; under 1 ms as an array)."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(select(found.c[0]))
    ids = select(func.array_agg(found.c[0])).scalar_subquery()
    return column == any_(cast(ids, ARRAY(Integer)))  # the cast: an array, not a row set


async def conversations_of_customer(
    session: AsyncSession, customer_id: int, *, visible: set[int] | None, limit: int = 20
) -> Sequence[Conversation]:
    query = (
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.id.desc())
        .limit(limit)
    )
    if visible is not None:
        query = query.where(Conversation.inbox_id.in_(visible or {-1}))
    return (await session.scalars(query)).all()


class OpenedConversation(NamedTuple):
    sequence: int  # the event log's last sequence, read with the rows
    conversation: Conversation
    customer: Customer
    inbox: Inbox
    tags: list[str]  # by name


async def open_conversation(
    session: AsyncSession, conversation_id: int
) -> OpenedConversation | None:
    """A conversation with its customer, inbox and tag names and the event log's last
    sequence, in one statement (None when there is no such conversation). While the caller
    holds the answer (the session keeps weak references), the session answers `get`s of
    these rows without SQL."""
    last = select(Event.sequence).order_by(Event.sequence.desc()).limit(1).scalar_subquery()
    rows = (
        await session.execute(
            select(last, Conversation, Customer, Inbox, Tag.name)
            .join(Customer, Customer.id == Conversation.customer_id)
            .join(Inbox, Inbox.id == Conversation.inbox_id)
            .outerjoin(ConversationTag, ConversationTag.conversation_id == Conversation.id)
            .outerjoin(Tag, Tag.id == ConversationTag.tag_id)
            .where(Conversation.id == conversation_id)
            .order_by(Tag.name)  # as conversations.repository.tag_names
        )
    ).all()
    if not rows:
        return None
    sequence, conversation, customer, inbox, _ = rows[0]
    tags = [name for *_, name in rows if name is not None]
    return OpenedConversation(int(sequence or 0), conversation, customer, inbox, tags)


async def timeline_with_files(
    session: AsyncSession, customer_id: int, *, inbox_ids: set[int] | None, limit: int
) -> list[tuple[Message, list[Attachment]]]:
    """The customer's first `limit` messages in the inboxes `inbox_ids` (None: all), oldest
    first, each with its files, in one statement (customers.repository.timeline's rows).
    Uses index: ix_messages_customer_id, then ix_attachments_message_id."""
    chosen = select(Message.id).where(Message.customer_id == customer_id)
    if inbox_ids is not None:
        chosen = chosen.where(Message.inbox_id.in_(inbox_ids or {-1}))
    page = chosen.order_by(Message.id).limit(limit).subquery()
    rows = await session.execute(
        select(Message, Attachment)
        .join(page, page.c.id == Message.id)
        .outerjoin(Attachment, Attachment.message_id == Message.id)
        .order_by(Message.id, Attachment.id)
    )
    return _with_files(rows.tuples().all())


async def notes_with_files(
    session: AsyncSession, conversation_id: int
) -> list[tuple[Note, list[Attachment]]]:
    """The conversation's internal notes, oldest first, each with its files (one statement)."""
    rows = await session.execute(
        select(Note, Attachment)
        .outerjoin(Attachment, Attachment.note_id == Note.id)
        .where(Note.conversation_id == conversation_id)
        .order_by(Note.id, Attachment.id)
    )
    return _with_files(rows.tuples().all())


def _with_files(
    rows: Sequence[tuple[_Row, Attachment | None]],
) -> list[tuple[_Row, list[Attachment]]]:
    """(row, file or None) pairs, a row repeated once per file, as (row, its files), in order."""
    found: dict[int, tuple[_Row, list[Attachment]]] = {}
    for row, item in rows:
        # The session hands out one object per row, however many files repeat it.
        _, files = found.setdefault(id(row), (row, []))
        if item is not None:
            files.append(item)
    return list(found.values())


async def all_tags(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Tag.name).order_by(Tag.name))).all())


async def get_canned(session: AsyncSession, canned_id: int) -> CannedResponse | None:
    return await session.get(CannedResponse, canned_id)


async def list_canned(session: AsyncSession, agent_id: int) -> Sequence[CannedResponse]:
    """Shared responses and the agent's own, by shortcut."""
    return (
        await session.scalars(
            select(CannedResponse)
            .where(or_(CannedResponse.owner_id.is_(None), CannedResponse.owner_id == agent_id))
            .order_by(CannedResponse.shortcut, CannedResponse.id)
        )
    ).all()


def _mentions_of(agent_id: int, visible: set[int] | None) -> Select[Mention, str]:
    # Mentions in conversations the agent can no longer see (team changed) are hidden.
    query = (
        select(Mention, Note.text)
        .join(Note, Note.id == Mention.note_id)
        .join(Conversation, Conversation.id == Mention.conversation_id)
        .where(Mention.agent_id == agent_id)
    )
    if visible is not None:
        query = query.where(Conversation.inbox_id.in_(visible or {-1}))
    return query


async def list_mentions(
    session: AsyncSession,
    agent_id: int,
    *,
    visible: set[int] | None,
    unread_only: bool,
    before: int | None,
    limit: int,
) -> list[tuple[Mention, str]]:
    """Newest first, with the note's text."""
    query = _mentions_of(agent_id, visible)
    if unread_only:
        query = query.where(Mention.read_at.is_(None))
    if before is not None:
        query = query.where(Mention.id < before)
    rows = await session.execute(query.order_by(Mention.id.desc()).limit(limit))
    return [(mention, text) for mention, text in rows.all()]


async def count_unread_mentions(
    session: AsyncSession, agent_id: int, *, visible: set[int] | None
) -> int:
    # Uses index: ix_mentions_agent_unread.
    query = _mentions_of(agent_id, visible).where(Mention.read_at.is_(None))
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def get_mention(session: AsyncSession, mention_id: int) -> Mention | None:
    return await session.get(Mention, mention_id)


async def mark_mentions_read(
    session: AsyncSession, agent_id: int, *, at: Any, conversation_id: int | None = None
) -> int:
    """Mark the agent's unread mentions read (all, or those of one conversation)."""
    statement = update(Mention).where(Mention.agent_id == agent_id, Mention.read_at.is_(None))
    if conversation_id is not None:
        statement = statement.where(Mention.conversation_id == conversation_id)
    result = await session.execute(
        statement.values(read_at=at).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Saved views, macros, preferences ------------------------------------------------------


async def list_saved_views(
    session: AsyncSession, agent_id: int, *, sees_everything: bool
) -> Sequence[SavedView]:
    """The agent's own views, views shared with everyone, and views shared with a team of
    theirs (supervisors and admins see every shared view), by name."""
    my_teams = select(TeamMember.team_id).where(TeamMember.agent_id == agent_id)
    shared = SavedView.shared.is_(True)
    reach = (
        shared
        if sees_everything
        else shared & or_(SavedView.team_id.is_(None), SavedView.team_id.in_(my_teams))
    )
    return (
        await session.scalars(
            select(SavedView)
            .where(or_(SavedView.owner_id == agent_id, reach))
            .order_by(SavedView.name, SavedView.id)
        )
    ).all()


async def get_saved_view(session: AsyncSession, view_id: int) -> SavedView | None:
    return await session.get(SavedView, view_id)


async def list_macros(session: AsyncSession, agent_id: int) -> Sequence[Macro]:
    """Shared macros and the agent's own, by name."""
    return (
        await session.scalars(
            select(Macro)
            .where(or_(Macro.owner_id.is_(None), Macro.owner_id == agent_id))
            .order_by(Macro.name, Macro.id)
        )
    ).all()


async def get_macro(session: AsyncSession, macro_id: int) -> Macro | None:
    return await session.get(Macro, macro_id)


async def get_preferences(session: AsyncSession, agent_id: int) -> WorkspacePreference | None:
    async def load() -> WorkspacePreference | None:
        return await session.get(WorkspacePreference, agent_id)

    # Once per request: every page reads them, and the conversation's header again (an agent
    # who never saved any has no row, which the identity map cannot remember).
    return await memo.once(session, ("preferences", agent_id), load)


async def desk_agent(
    session: AsyncSession, digest: str, now: datetime, *, kind: str
) -> tuple[Agent, AgentPresence | None] | None:
    """The active agent a live token belongs to (auth's query) with their presence row and
    workspace preferences, in one statement instead of three: every desktop page reads all
    three first. The preferences are remembered for get_preferences (no row: None), the
    presence row stays in the session for routing's reads."""
    query = (
        auth_repository.agent_by_token_query(digest, now, kind=kind)
        .add_columns(AgentPresence, WorkspacePreference)
        .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
        .outerjoin(WorkspacePreference, WorkspacePreference.agent_id == Agent.id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    agent, presence, preferences = row
    memo.remember(session, ("preferences", agent.id), preferences)
    return agent, presence


async def is_team_member(session: AsyncSession, agent_id: int, team_id: int) -> bool:
    found = await session.scalar(
        select(TeamMember.agent_id).where(
            TeamMember.agent_id == agent_id, TeamMember.team_id == team_id
        )
    )
    return found is not None


async def unanswered_mine(session: AsyncSession, agent_id: int, *, visible: set[int] | None) -> int:
    """Open conversations assigned to the agent whose last message is the customer's,
    not answered yet (the tab title's unread count)."""
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    query = (
        select(func.count())
        .select_from(Conversation)
        .join(Message, Message.id == latest)
        .where(
            Conversation.assignee_id == agent_id,
            Conversation.status == "open",
            Message.direction == "inbound",
            Message.answered.is_(False),
        )
    )
    if visible is not None:
        query = query.where(Conversation.inbox_id.in_(visible or {-1}))
    return int(await session.scalar(query) or 0)
