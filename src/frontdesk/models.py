"""Imports every table so Alembic and create_all see the whole schema: the domains' tables
here, the channels' through their plugins (frontdesk.channels.INSTALLED)."""

from frontdesk import channels
from frontdesk.auth.models import Agent, ApiToken, Team, TeamMember
from frontdesk.conversations.models import (
    Attachment,
    Conversation,
    ConversationTag,
    Message,
    Note,
    PendingProviderUpdate,
    Tag,
)
from frontdesk.customers.models import Customer, Identity
from frontdesk.db import Base
from frontdesk.desk.models import CannedResponse
from frontdesk.inboxes.models import Inbox, InboxTeam, InboxTemplate
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job, Schedule
from frontdesk.kit.ratelimit import RateWindow
from frontdesk.knowledge.models import (
    Article,
    Feedback,
    IndexStamp,
    Question,
    Translation,
    Version,
)
from frontdesk.routing.models import (
    AgentCapacity,
    AgentPresence,
    RoutingPolicy,
    RoutingQueue,
    RoutingTask,
    WorkerProfile,
)
from frontdesk.sentiment.models import SentimentRule

channels.load()

__all__ = [
    "Agent", "AgentCapacity", "AgentPresence", "ApiToken", "Article", "Attachment", "Base",
    "CannedResponse", "Conversation", "ConversationTag", "Customer", "Event", "Feedback",
    "Identity", "Inbox", "InboxTeam", "InboxTemplate", "IndexStamp", "Job", "Message", "Note",
    "PendingProviderUpdate", "Question", "RateWindow", "RoutingPolicy", "RoutingQueue",
    "RoutingTask", "Schedule", "SentimentRule", "Tag", "Team", "TeamMember", "Translation",
    "Version", "WorkerProfile",
]  # fmt: skip
