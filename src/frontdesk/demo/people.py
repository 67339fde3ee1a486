"""The demo company's people and customer records beyond the four logins: more agents (one
invited who has not chosen a password yet, one who left and is deactivated), teams with
members, the agents' e-mail signatures, and custom customer attributes with values."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentInvite, AgentUpdate, ProfileUpdate, TeamCreate
from frontdesk.customers import attributes
from frontdesk.customers import service as customers
from frontdesk.customers.models import Customer
from frontdesk.customers.schemas import AttributeCreate, CustomerUpdate
from frontdesk.runtime import Runtime

# (e-mail, name, role, language, state): "active" agents have an unknown password (no
# login line is printed for them), "invited" ones an open invitation, "left" ones are
# deactivated.
MORE_AGENTS = [
    ("noor@frontdesk.test", "Noor Hassan", "agent", "ar", "active"),
    ("kian@frontdesk.test", "Kian Moradi", "supervisor", "fa", "active"),
    ("farah@frontdesk.test", "Farah Saleh", "agent", "ar", "invited"),
    ("daniel@frontdesk.test", "Daniel Brooks", "agent", "en", "left"),
]
# (team, member e-mails): Support and Billing exist already.
MORE_TEAMS = [
    ("VIP", ["sara@frontdesk.test", "alice@frontdesk.test", "kian@frontdesk.test"]),
    ("Arabic desk", ["bob@frontdesk.test", "noor@frontdesk.test", "farah@frontdesk.test"]),
]
SIGNATURES = {
    "alice@frontdesk.test": "Alice Support\nFrontdesk Shop · Customer care",
    "bob@frontdesk.test": "Bob Billing\nفريق الفواتير · Frontdesk Shop",
    "sara@frontdesk.test": "سارا، سرپرست پشتیبانی\nFrontdesk Shop",
}
ATTRIBUTES: list[dict[str, Any]] = [
    {"key": "plan", "label": "Plan", "kind": "list", "options": ["Free", "Pro", "Business"]},
    {"key": "seats", "label": "Seats", "kind": "number"},
    {"key": "renews_on", "label": "Renews on", "kind": "date"},
    {"key": "account_manager", "label": "Account manager", "kind": "text"},
]
# (identity address, attribute values, notes)
CUSTOMER_RECORDS: list[tuple[str, dict[str, Any], str]] = [
    ("layla@example.com", {"plan": "Pro", "seats": 5, "renews_on": "2027-03-01",
                           "account_manager": "Alice"}, "Prefers e-mail. Order #4411 is late."),
    ("omar@example.org", {"plan": "Business", "seats": 40, "renews_on": "2027-01-15",
                          "account_manager": "نور حسن"}, "يفضّل العربية. طلب استرداد المبلغ."),
    ("+989123456789", {"plan": "Free"}, "فارسی صحبت می‌کند."),
    ("john@example.net", {"plan": "Pro", "seats": 2}, ""),
]  # fmt: skip


async def seed_people(session: AsyncSession, runtime: Runtime, admin: Any) -> None:
    """Agents, teams, signatures, attribute definitions and customer values (once)."""
    cost = runtime.settings.password_cost
    for email, name, role, language, state in MORE_AGENTS:
        invite = AgentInvite.model_validate(
            {"email": email, "name": name, "role": role, "language": language}
        )
        agent, _token, _expires = await auth.invite_agent(session, invite, cost=cost)
        if state != "invited":
            # Not waiting for anyone: the invitation is spent (nobody knows the password).
            await auth_repository.delete_agent_tokens_of_kind(session, agent.id, "invite")
        if state == "left":
            await auth.update_agent(session, agent, AgentUpdate(active=False))
    for team, emails in MORE_TEAMS:
        members = [await auth_repository.get_agent_by_email(session, e) for e in emails]
        ids = [m.id for m in members if m is not None]
        await auth.create_team(session, TeamCreate(name=team, agent_ids=ids))
    for email, signature in SIGNATURES.items():
        who = await auth_repository.get_agent_by_email(session, email)
        if who is not None:
            await auth.update_profile(session, who, ProfileUpdate(signature=signature))
    for spec in ATTRIBUTES:
        await attributes.create(session, AttributeCreate.model_validate(spec))
    for address, values, notes in CUSTOMER_RECORDS:
        for customer in await customers.find_by_identity(session, address, agent=admin):
            await _describe(session, customer, values, notes)


async def _describe(
    session: AsyncSession, customer: Customer, values: dict[str, Any], notes: str
) -> None:
    data = CustomerUpdate(attributes={**customer.attributes, **values}, notes=notes)
    await customers.update_customer(session, customer, data)
