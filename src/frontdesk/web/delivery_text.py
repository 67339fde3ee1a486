"""A failed delivery as the agent reads it: one translated sentence and whether sending again
can help. The stored `delivery_error` (codes, provider texts, exception messages) stays for
the API and for support; it is never put in a page."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.conversations.delivery import FAILURE_CODE
from frontdesk.conversations.models import Message

# Codes a failure is stored under (meta's FAILURE_CODE, set with the delivery's failure).
# Sending again helps once the cause is fixed (settings, a temporary fault), not when the
# customer or the provider refused for good.
FAILURES = {
    "not_configured": (
        "This inbox cannot send yet: an admin must finish its settings. Then send again.",
        True,
    ),
    "automatic_off": ("Automatic replies to automated or imported mail are turned off.", False),
    "opted_out": (
        "The customer opted out of SMS (they sent STOP); they must send START first.",
        False,
    ),
    # A channel's refusal of the recipient before sending (an e-mail address suppressed after
    # a hard bounce) has no code of its own.
    "": (
        "This address cannot be written to on this channel any more (for example, it bounced).",
        False,
    ),
    "bounced": ("The customer's mail server refused this message for good.", False),
    "bounced_temporarily": ("The mail could not be delivered yet.", True),
}
FAILED = ("This message could not be delivered.", True)
REFUSED = ("The provider refused this message.", False)


@dataclass(frozen=True, slots=True)
class Failure:
    text: str  # English source; the template translates it
    can_retry: bool


def failure(message: Message) -> Failure:
    """What went wrong with this failed message, in words for the agent."""
    return Failure(*_known(message))


def _known(message: Message) -> tuple[str, bool]:
    bounce = message.meta.get("bounce")
    if isinstance(bounce, dict):
        return FAILURES["bounced" if bounce.get("permanent") else "bounced_temporarily"]
    code = message.meta.get(FAILURE_CODE)
    if isinstance(code, str) and code in FAILURES:
        return FAILURES[code]
    # A code we do not know is the provider's own refusal (e.g. WhatsApp's 131047).
    return FAILED if code is None else REFUSED
