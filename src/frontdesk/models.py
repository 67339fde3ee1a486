"""Imports every table so Alembic and create_all see the whole schema."""

from frontdesk.auth.models import Agent, ApiToken, Team, TeamMember
from frontdesk.channels.models import Inbox, InboxTeam
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
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job, Schedule

__all__ = [
    "Agent", "ApiToken", "Attachment", "Base", "Conversation", "ConversationTag", "Customer",
    "Event", "Identity", "Inbox", "InboxTeam", "Job", "Message", "Note", "Schedule", "Tag",
    "Team", "TeamMember",
]  # fmt: skip
