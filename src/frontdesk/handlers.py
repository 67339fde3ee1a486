"""Imports every module that registers job handlers or channel adapters."""

import frontdesk.blobgc
import frontdesk.channels.api.adapter
import frontdesk.channels.email.adapter
import frontdesk.channels.webchat.adapter
import frontdesk.channels.webchat.tasks
import frontdesk.conversations.tasks
import frontdesk.kit.jobs  # noqa: F401
