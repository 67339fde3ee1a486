"""The demo's workspace: a few saved views (personal, team, everyone) and macros (shared
ones from the admin, a personal one of Alice's), and each agent's time zone and choice of
browser notifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.desk import workspace
from frontdesk.desk.schemas import MacroCreate, PreferencesUpdate, SavedViewCreate

# (agent e-mail, name, query, shared with: None = only them, "all", or a team name)
VIEWS = [
    ("alice@frontdesk.test", "My urgent", "view=mine&status=open&priority=urgent", None),
    ("sara@frontdesk.test", "Unassigned and open", "view=unassigned&status=open", "all"),
    ("sara@frontdesk.test", "Snoozed", "view=all&status=snoozed", "all"),
    ("alice@frontdesk.test", "Support: e-mail", "view=teams&status=open&channel=email", "Support"),
    ("bob@frontdesk.test", "استرداد", "view=all&status=&q=refund", None),
]
MACROS: list[tuple[str, dict[str, Any]]] = [
    (
        "admin@frontdesk.test",
        {
            "name": "Refund issued",
            "text": "Hi {{customer.first_name}}, your refund is on its way: it reaches your "
            "account in 3 to 5 working days. — {{agent.first_name}}",
            "status": "resolved",
            "tags": ["refund"],
            "shared": True,
        },
    ),
    (
        "admin@frontdesk.test",
        {
            "name": "Waiting for the customer",
            "text": "Could you send us your order number, {{customer.first_name}}?",
            "status": "pending",
            "tags": ["waiting"],
            "shared": True,
        },
    ),
    (
        "admin@frontdesk.test",
        {
            "name": "پاسخ فارسی: ارسال شد",
            "text": "سلام {{customer.first_name}}، سفارش شما ارسال شد.",
            "status": "resolved",
            "shared": True,
        },
    ),
    (
        "alice@frontdesk.test",
        {"name": "Take it, urgent", "priority": "urgent", "assign": "me"},
    ),
]
PREFERENCES = {
    "alice@frontdesk.test": ("Europe/London", ["assigned", "mentions"]),
    "sara@frontdesk.test": ("Asia/Tehran", ["mentions", "new"]),
    "bob@frontdesk.test": ("Asia/Riyadh", ["assigned"]),
}


async def seed_workspace(session: AsyncSession) -> None:
    teams = {team.name: team.id for team in await auth_repository.list_teams(session)}
    for email, name, query, shared in VIEWS:
        agent = await auth_repository.get_agent_by_email(session, email)
        if agent is None:
            continue
        data = SavedViewCreate(
            name=name,
            query=query,
            shared=shared == "all",
            team_id=teams.get(shared or ""),
        )
        await workspace.create_view(session, agent, data)
    for email, fields in MACROS:
        agent = await auth_repository.get_agent_by_email(session, email)
        if agent is not None:
            await workspace.create_macro(session, agent, MacroCreate(**fields))
    for email, (zone, notify) in PREFERENCES.items():
        agent = await auth_repository.get_agent_by_email(session, email)
        if agent is not None:
            update = PreferencesUpdate(time_zone=zone, notify=notify)  # type: ignore[arg-type]
            await workspace.set_preferences(session, agent, update)
