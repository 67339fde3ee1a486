"""Imports every table so Alembic and create_all see the whole schema."""

from frontdesk.auth.models import Agent, ApiToken, Team, TeamMember
from frontdesk.channels.email.models import Mailbox, Quarantined, SeenMail
from frontdesk.channels.models import Inbox, InboxTeam
from frontdesk.channels.webchat.models import WebchatVisitor
from frontdesk.conversations.models import (
    Attachment,
    Conversation,
    ConversationTag,
    Message,
    Note,
    Tag,
)
from frontdesk.customers.models import Customer, Identity
from frontdesk.db import Base
from frontdesk.desk.models import CannedResponse
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job, Schedule
from frontdesk.kit.ratelimit import RateWindow
from frontdesk.routing.models import AgentPresence

__all__ = [
    "Agent", "AgentPresence", "ApiToken", "Attachment", "Base", "CannedResponse", "Conversation",
    "ConversationTag", "Customer", "Event", "Identity", "Inbox", "InboxTeam", "Job", "Mailbox",
    "Message", "Note", "Quarantined", "RateWindow", "Schedule", "SeenMail", "Tag", "Team",
    "TeamMember", "WebchatVisitor",
]  # fmt: skip
