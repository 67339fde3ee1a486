"""Imports every module that registers job handlers, and every installed channel (each
channel's plugin module registers its adapter, routes, runners and jobs)."""

import frontdesk.blobgc
import frontdesk.bot.tasks
import frontdesk.conversations.recordings
import frontdesk.conversations.tasks
import frontdesk.kit.jobs
import frontdesk.knowledge.tasks
import frontdesk.routing.tasks
import frontdesk.sentiment.tasks
import frontdesk.sla.tasks
import frontdesk.surveys.tasks  # noqa: F401
from frontdesk import channels

channels.load()
