"""The agent's e-mail signature, appended to their e-mail replies (plain text and HTML)."""

from __future__ import annotations

from markupsafe import escape

from frontdesk.auth.models import Agent

# RFC 3676's signature separator: mail clients recognise and grey out what follows.
SEPARATOR = "-- "
SIGNED_CHANNELS = frozenset({"email"})


def signed(
    text: str, html: str | None, *, author: Agent | None, channel: str
) -> tuple[str, str | None]:
    """The reply's text and HTML with the author's signature, on channels that sign."""
    signature = (author.signature if author is not None else "").strip()
    if not signature or channel not in SIGNED_CHANNELS:
        return text, html
    text = f"{text.rstrip()}\n\n{SEPARATOR}\n{signature}"
    if html:
        lines = "<br>".join(str(escape(line)) for line in signature.splitlines())
        html = f'{html}<p class="signature">{SEPARATOR}<br>{lines}</p>'
    return text, html
