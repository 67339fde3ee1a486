"""The activity log's quiet timeline lines: who did what, as a translated sentence whose
names, values and tags are escaped and bidi-isolated (<bdi>), numbers localised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import activity
from frontdesk.conversations.models import Conversation
from frontdesk.conversations.schemas import ActivityRead
from frontdesk.kit.i18n import format_number, format_when, language, translator

# msgids, by kind: with an agent ("who"), and without one (the system did it).
SENTENCES: dict[str, tuple[str, str]] = {
    "opened": ("Conversation opened", "Conversation opened"),
    "status": (
        "{who} changed the status from {old} to {new}",
        "The status changed from {old} to {new}",
    ),
    "assigned": ("{who} assigned this conversation to {new}", "Assigned to {new}"),
    "unassigned": ("{who} unassigned {old}", "{old} was unassigned"),
    "priority": (
        "{who} changed the priority from {old} to {new}",
        "The priority changed from {old} to {new}",
    ),
    "team": ("{who} moved this conversation to the team {new}", "Moved to the team {new}"),
    "subject": ("{who} changed the subject to {new}", "The subject changed to {new}"),
    "language": ("{who} set the language to {new}", "The language was set to {new}"),
    "snoozed": ("{who} snoozed this conversation until {new}", "Snoozed until {new}"),
    "tags_added": ("{who} added the tags {new}", "Tags added: {new}"),
    "tags_removed": ("{who} removed the tags {old}", "Tags removed: {old}"),
    "flagged": ("Flagged as a possible spoof", "Flagged as a possible spoof"),
    "sla_warning": (
        "SLA warning: 80 % of the {new} has been used",
        "SLA warning: 80 % of the {new} has been used",
    ),
    "sla_breached": ("SLA breached: the {new} was missed", "SLA breached: the {new} was missed"),
    "merged": (
        "{who} merged customer {old} into this customer",
        "Customer {old} was merged into this customer",
    ),
}
# Every msgid above and below (tests/web/test_i18n.py checks each has its translations).
FALLBACK = ("{who}: {kind}", "{kind}")
# The SLA clocks' kinds, as the sentences name them.
CLOCK_WORDS = {
    "first_response": "first response target",
    "next_response": "next response target",
    "resolution": "resolution target",
}
VALUE_WORDS = ("none", "an agent", "a team", *CLOCK_WORDS.values())
ACTIVITY_STRINGS = frozenset(
    {text for pair in SENTENCES.values() for text in pair} | set(FALLBACK) | set(VALUE_WORDS)
)
# Kinds another timeline line already shows (a switch is shown on its message).
SHOWN_ELSEWHERE = frozenset({"switched"})
_BDI = Markup("<bdi>{}</bdi>")
ACTIVITY_LIMIT = 500


def describe(
    item: ActivityRead,
    *,
    gettext: Callable[..., str],
    lang: str,
    agents: Mapping[int, str],
    teams: Mapping[int, str],
) -> Markup:
    """One line, e.g. "Ada assigned this conversation to Alice"."""
    with_agent, without = SENTENCES.get(item.kind, FALLBACK)

    def value(raw: Any, field: str) -> Markup:
        if raw is None:
            return _BDI.format(gettext("none"))
        if isinstance(raw, list):
            return Markup(" ").join(_BDI.format(name) for name in raw)
        if field in ("assigned", "unassigned"):
            return _BDI.format(agents.get(raw, gettext("an agent")))
        if field == "team":
            return _BDI.format(teams.get(raw, gettext("a team")))
        if field == "merged":
            return _BDI.format("#" + format_number(int(raw), lang))
        if field == "snoozed":
            return _BDI.format(format_when(datetime.fromisoformat(str(raw)), lang))
        if field in ("sla_warning", "sla_breached"):
            return _BDI.format(gettext(CLOCK_WORDS.get(str(raw), str(raw))))
        if field in ("status", "priority"):
            return _BDI.format(gettext(str(raw)))
        return _BDI.format(str(raw))

    who = agents.get(item.by_agent_id) if item.by_agent_id is not None else None
    sentence = with_agent if who else without
    return Markup(gettext(sentence)).format(
        who=_BDI.format(who or ""),
        old=value(item.old, item.kind),
        new=value(item.new, item.kind),
        kind=_BDI.format(item.kind),
    )


async def activity_lines(
    session: AsyncSession, conversation: Conversation, agent: Agent, agents: dict[int, Agent]
) -> list[dict[str, Any]]:
    """The conversation's activity log as quiet timeline lines in the agent's language."""
    items, _ = await activity.list_activity(session, conversation, after=None, limit=ACTIVITY_LIMIT)
    lang = language(agent.language)
    names = {agent_id: a.name for agent_id, a in agents.items()}
    shown = [item for item in items if item.kind not in SHOWN_ELSEWHERE]
    # Team names only where a line names a team (most conversations have none).
    teams = (
        {team.id: team.name for team in await auth_repository.list_teams(session)}
        if any(item.kind == "team" for item in shown)
        else {}
    )
    gettext = translator(lang)
    return [
        {
            "kind": "activity",
            "at": item.at,
            "item": item,
            "text": describe(item, gettext=gettext, lang=lang, agents=names, teams=teams),
        }
        for item in shown
    ]
