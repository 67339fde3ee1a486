"""Form errors the agent can fix, said in their language (the code follows, for support),
and what a closed reply window means on each channel."""

from __future__ import annotations

from frontdesk.inboxes.port import find_adapter

# Form errors the agent can fix, said in their language (the code follows, for support).
ERROR_TEXT = {
    "upload_type": "This type of file is not accepted here.",
    "attachment_too_large": "The file is too large for this inbox.",
    "too_many_files": "At most 10 files per message.",
    "empty_message": "Write a message or attach a file.",
    "reply_window_closed": "The reply window has closed: send one of this inbox's templates.",
    "unknown_template": "Choose one of this inbox's templates.",
    "template_not_approved": "This template is not approved yet.",
    "template_parameters": "This template needs a different number of parameters.",
    "not_public": "This is not a public comment.",
    "already_replied": "This comment was already answered privately.",
    "provider_refused": "The provider refused.",
    "opted_out": "The customer opted out of SMS (they sent STOP); they must send START first.",
    "no_identity": "The customer has no address on that channel.",
    "inbox_required": "Choose which inbox of that channel to reply from.",
    "no_inbox": "You serve no inbox of that channel.",
    "invalid": "Some of what you entered is not valid.",
    "invalid_snooze": "Pick a date and time to snooze until.",
    "snooze_in_past": "Pick a time in the future to snooze until.",
    "no_macro": "Choose a macro to apply.",
}
# Any other code: a sentence, never the code alone (it follows in brackets, for support).
GENERIC_ERROR = "It was not saved. Try again; if it keeps failing, tell an admin."
# What a closed reply window means depends on the channel (its capabilities, not its name):
# templates may still go (WhatsApp); a person may still answer for 7 days with a message tag
# (Messenger and Instagram's HUMAN_AGENT, `outside_window` on the adapter); or nothing may.
CLOSED_WINDOW_TEXT = {
    "templates": "The reply window has closed: send one of this inbox's templates.",
    "tagged": "The reply window has closed, and so have the 7 days in which a person may still "
    "answer (HUMAN_AGENT tag): the customer must write first.",
    "closed": "The reply window has closed: no reply can be sent until the customer writes again.",
}


def window_rule(channel: str) -> str:
    """templates | tagged | closed: what may still go once the channel's window has closed."""
    adapter = find_adapter(channel)
    if adapter is not None and adapter.capabilities.templates:
        return "templates"
    if getattr(adapter, "outside_window", None) is not None:
        return "tagged"
    return "closed"


def error_text(code: str | None, channel: str | None) -> str | None:
    """The English text of a form error the agent can fix, for the channel it came from."""
    if code == "reply_window_closed" and channel is not None:
        return CLOSED_WINDOW_TEXT[window_rule(channel)]
    if not code:
        return None
    return ERROR_TEXT.get(code, GENERIC_ERROR)
