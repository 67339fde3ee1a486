"""Imports every table so Alembic and create_all see the whole schema."""

from frontdesk.auth.models import Agent, ApiToken, Team, TeamMember
from frontdesk.channels.email.models import Mailbox, Quarantined, SeenMail
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
from frontdesk.kit.ratelimit import RateWindow

__all__ = [
    "Agent", "ApiToken", "Attachment", "Base", "Conversation", "ConversationTag", "Customer",
    "Event", "Identity", "Inbox", "InboxTeam", "Job", "Mailbox", "Message", "Note", "Quarantined",
    "RateWindow", "Schedule", "SeenMail", "Tag", "Team", "TeamMember",
]  # fmt: skip
