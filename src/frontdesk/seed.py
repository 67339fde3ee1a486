"""The demo organisation: a small cast that `frontdesk demo` and `frontdesk seed` load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.service import catch_up_all
from frontdesk.auth import repository as auth_repository
from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate, TeamCreate
from frontdesk.bot import service as bot
from frontdesk.bot.schemas import BotSettingsWrite
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.demo import seeding as demo_seeding
from frontdesk.demo.people import seed_people
from frontdesk.demo.routing import seed_routing
from frontdesk.demo.sla import seed_sla
from frontdesk.demo.workspace import seed_workspace
from frontdesk.desk import service as desk
from frontdesk.desk.schemas import CannedCreate
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.port import Inbound
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.knowledge.demo import seed_articles
from frontdesk.runtime import Runtime

DEMO_AGENTS = [
    ("admin@frontdesk.test", "Ada Admin", "admin", "frontdesk-admin", "en"),
    ("sara@frontdesk.test", "Sara Supervisor", "supervisor", "frontdesk-sara", "fa"),
    ("alice@frontdesk.test", "Alice Support", "agent", "frontdesk-alice", "en"),
    ("bob@frontdesk.test", "Bob Billing", "agent", "frontdesk-bob", "ar"),
]

# (inbox index, external id, address, name, text)
DEMO_MESSAGES = [
    (0, "web-1001", "layla@example.com", "Layla Haddad", "Hi, my order #4411 has not arrived yet."),
    (1, "app-2001", "layla@example.com", "Layla Haddad", "Also: I was charged twice for #4411."),
    (0, "web-1002", "+989123456789", "Reza Ahmadi", "سلام، رمز عبورم را فراموش کرده‌ام."),
    (1, "app-2002", "omar@example.org", "Omar Khalil", "مرحبا، أريد استرداد المبلغ من فضلك."),
    (0, "web-1003", "john@example.net", "John Smith", "Can I change the delivery address?"),
]


@dataclass
class Seeded:
    token: str
    logins: list[tuple[str, str]]


async def seed(runtime: Runtime, *, history: bool = True) -> Seeded:
    """Load the demo organisation once; later calls only issue a fresh admin token. In
    development (`frontdesk demo`) also the demo's messaging inboxes and, with `history`,
    several weeks of conversations on every channel."""
    async with runtime.db.session() as session:
        admin = await auth_repository.get_agent_by_email(session, DEMO_AGENTS[0][0])
        fresh = admin is None
        if admin is None:
            admin = await _load(session, runtime)
        if runtime.settings.env == "development":
            await demo_seeding.demo_world(session, runtime, history=fresh and history)
        token = await auth.issue_token(session, admin, name="demo")
        await uow.commit(session)
    if runtime.settings.env == "development" and fresh and history:
        # Routing in its own transaction, after the history's events are committed: a policy
        # makes intake jobs for every customer message of the transaction it commits with.
        async with runtime.db.session() as session:
            await seed_routing(session)
            await uow.commit(session)
    # The reports open on real-looking figures: the rollups fold the history now.
    await catch_up_all(runtime.db)
    return Seeded(
        token=token, logins=[(email, password) for email, _, _, password, _ in DEMO_AGENTS]
    )


async def _load(session: AsyncSession, runtime: Runtime) -> Any:
    agents = {}
    for email, name, role, password, language in DEMO_AGENTS:
        agents[email] = await auth.create_agent(
            session,
            AgentCreate.model_validate(
                {
                    "email": email,
                    "name": name,
                    "role": role,
                    "password": password,
                    "language": language,
                }
            ),
            cost=runtime.settings.password_cost,
        )
    support = await auth.create_team(
        session, TeamCreate(name="Support", agent_ids=[agents["alice@frontdesk.test"].id])
    )
    billing = await auth.create_team(
        session, TeamCreate(name="Billing", agent_ids=[agents["bob@frontdesk.test"].id])
    )
    # The demo sink only answers in development; elsewhere set real webhook URLs afterwards.
    sink = (
        runtime.settings.base_url.rstrip("/") + "/demo/sink"
        if runtime.settings.env == "development"
        else None
    )
    api_inboxes = [
        await inboxes.create_inbox(
            session,
            InboxCreate(
                channel="api", name="Website (API)", team_ids=[support.id], webhook_url=sink
            ),
            runtime.settings,
        ),
        await inboxes.create_inbox(
            session,
            InboxCreate(
                channel="api", name="Mobile app (API)", team_ids=[billing.id], webhook_url=sink
            ),
            runtime.settings,
        ),
    ]
    # Mail to support@frontdesk.test on the demo's SMTP port (--smtp-port) lands here.
    await inboxes.create_inbox(
        session,
        InboxCreate(
            channel="email",
            name="Support (e-mail)",
            team_ids=[support.id],
            address="support@frontdesk.test",
        ),
        runtime.settings,
    )
    chat = await inboxes.create_inbox(
        session,
        InboxCreate(
            channel="webchat",
            name="Website chat",
            team_ids=[support.id],
            # Calls from the widget are recorded in the demo (both sides are told first).
            settings={"greeting": "Hi! Ask us anything about your order.", "record_calls": True},
        ),
        runtime.settings,
    )
    await session.flush()
    received = []
    for index, external_id, address, name, text in DEMO_MESSAGES:
        inbound = Inbound(
            inbox_id=api_inboxes[index].id,
            external_id=external_id,
            address=address,
            name=name,
            text=text,
        )
        received.append(await conversations.receive(session, inbound, blobs=runtime.blobs))
    await conversations.reply(
        session,
        received[0].conversation,
        author=agents["alice@frontdesk.test"],
        data=ReplyCreate(text="Sorry about that, Layla — I am checking with the courier now."),
    )
    # Layla's double charge (app) breached its first response; Omar's refund is at risk.
    await seed_sla(session, breached=received[1].conversation, at_risk=received[3].conversation)
    await _load_desk(session, runtime, chat, agents)
    await seed_workspace(session)  # saved views, macros, each agent's notification choices
    await seed_articles(session, author=agents["admin@frontdesk.test"])
    # The bot answers the website chat from those articles (Settings → Bot turns it off).
    await bot.set_settings(session, chat.id, BotSettingsWrite(enabled=True))
    # More agents and teams, signatures, custom customer attributes with values.
    await seed_people(session, runtime, agents["admin@frontdesk.test"])
    return agents["admin@frontdesk.test"]


async def _load_desk(session: AsyncSession, runtime: Runtime, chat: Any, agents: Any) -> None:
    """A visitor already chatting on the website, and a shared canned response."""
    visitor = Inbound(
        inbox_id=chat.id,
        external_id=f"wc{chat.id}-vdemo:demo-0001",
        address=f"wc{chat.id}-vdemo",
        name="Mina Rahimi",
        text="Hello! Do you ship to Shiraz?",
    )
    await conversations.receive(session, visitor, blobs=runtime.blobs)
    await desk.create_canned(
        session,
        agents["sara@frontdesk.test"],
        CannedCreate(
            shortcut="hello",
            title="Greeting",
            text="Hi {{customer.first_name}}, thanks for reaching out! I am {{agent.first_name}}.",
            shared=True,
        ),
    )
