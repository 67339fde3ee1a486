"""Imports every table so Alembic and create_all see the whole schema: the domains' tables
here, the channels' through their plugins (frontdesk.channels.INSTALLED)."""

from frontdesk import channels
from frontdesk.analytics.models import (
    AnalyticsCursor,
    ConversationFact,
    DailyByAgent,
    DailyByInbox,
    DailyByTag,
    DailyRollup,
    HourlyByInbox,
    HourlyByTag,
    HourlyRollup,
)
from frontdesk.auth.models import Agent, ApiToken, Team, TeamMember
from frontdesk.bot.models import BotConversation, BotInbox
from frontdesk.conversations.models import (
    Attachment,
    Conversation,
    ConversationTag,
    Message,
    Note,
    PendingProviderUpdate,
    Tag,
)
from frontdesk.customers.models import AttributeDefinition, Customer, CustomerMerge, Identity
from frontdesk.db import Base
from frontdesk.desk.models import CannedResponse, Macro, SavedView, WorkspacePreference
from frontdesk.inboxes.models import Inbox, InboxTeam, InboxTemplate
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job, Schedule
from frontdesk.kit.ratelimit import RateWindow
from frontdesk.knowledge.models import (
    Article,
    Feedback,
    Gap,
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
from frontdesk.sla.models import SlaCalendar, SlaClock, SlaPolicy
from frontdesk.surveys.models import Survey, SurveyConfig

channels.load()

__all__ = [
    "Agent", "AgentCapacity", "AgentPresence", "AnalyticsCursor", "ApiToken", "Article",
    "Attachment", "AttributeDefinition", "Base", "BotConversation", "BotInbox", "CannedResponse",
    "Conversation", "ConversationFact", "ConversationTag", "Customer", "CustomerMerge",
    "DailyByAgent", "DailyByInbox", "DailyByTag", "DailyRollup", "Event", "Feedback", "Gap",
    "HourlyByInbox", "HourlyByTag", "HourlyRollup", "Identity", "Inbox", "InboxTeam",
    "InboxTemplate", "IndexStamp", "Job", "Macro", "Message", "Note", "PendingProviderUpdate",
    "Question", "RateWindow", "RoutingPolicy", "RoutingQueue", "RoutingTask", "SavedView",
    "Schedule", "SentimentRule", "SlaCalendar", "SlaClock", "SlaPolicy", "Survey", "SurveyConfig",
    "Tag", "Team", "TeamMember", "Translation", "Version", "WorkerProfile", "WorkspacePreference",
]  # fmt: skip
