"""The words of the people and customer pages that come from code: refusals by error code,
and the names of attribute kinds. English here; Arabic and Persian in locale/*/messages.po
(tests/web/test_i18n.py checks each)."""

from __future__ import annotations

# What the page says when the service refuses, by error code (never the raw message).
PEOPLE_ERRORS = {
    "agent_exists": "An agent with this e-mail address exists already.",
    "team_exists": "A team with this name exists already.",
    "unknown_agent": "One of the chosen agents no longer exists.",
    "weak_password": "Choose a password of at least 10 characters that is not your name, "
    "your e-mail address or a common password.",
    "wrong_password": "The current password is not right.",
    "passwords_differ": "The two new passwords are not the same.",
    "last_admin": "At least one active admin must remain.",
    "invalid": "Some values are not valid: check the form.",
    "attribute_exists": "An attribute with this key exists already.",
    "identity_taken": "This address belongs to another customer.",
    "invalid_address": "This is not an address Frontdesk recognises; choose its kind.",
    "same_customer": "A customer cannot be merged into itself.",
    "not_found": "No such customer.",
    "already_split": "This merge was split already.",
    "other": "That did not work. Check the form and try again.",
}

ATTRIBUTE_KINDS = {"text": "Text", "number": "Number", "date": "Date", "list": "List"}

# An identity's kind as people say it (codes such as "email" are never shown raw).
IDENTITY_KINDS = {
    "email": "E-mail", "phone": "Phone", "telegram": "Telegram", "messenger": "Messenger",
    "instagram": "Instagram", "webchat": "Website visitor", "api": "API", "handle": "Handle",
}  # fmt: skip

# The invitation mail (in the invited agent's language).
INVITATION_SUBJECT = "You are invited to Frontdesk"
INVITATION_BODY = (
    "{name} invited you to Frontdesk. Choose your password here (the link works for 7 days):"
)

PEOPLE_STRINGS = frozenset({INVITATION_SUBJECT, INVITATION_BODY}) | (
    frozenset(PEOPLE_ERRORS.values())
    | frozenset(ATTRIBUTE_KINDS.values())
    | frozenset(IDENTITY_KINDS.values())
)


def error_code(code: str | None) -> str:
    return code if code in PEOPLE_ERRORS else "other"
