"""Imports every table so Alembic and create_all see the whole schema."""

from frontdesk.auth.models import Agent, ApiToken, Team, TeamMember
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
from frontdesk.routing.models import AgentPresence

__all__ = [
    "Agent", "AgentPresence", "ApiToken", "Attachment", "Base", "CannedResponse", "Conversation",
    "ConversationTag", "Customer", "Event", "Identity", "Inbox", "InboxTeam", "Job", "Message",
    "Note", "Schedule", "Tag", "Team", "TeamMember", "WebchatVisitor",
]  # fmt: skip
