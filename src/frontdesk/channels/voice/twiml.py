"""TwiML, the XML a Twilio-compatible provider runs for a call: a small builder that escapes
every text and attribute (caller-controlled values never become markup)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

# The `language` attribute of <Say> for each language the IVR speaks.
SAY_LANGUAGES = {"ar": "ar-AE", "fa": "fa-IR", "en": "en-US"}


def _attrs(attributes: dict[str, object]) -> str:
    parts = []
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        text = "true" if value is True else str(value)
        parts.append(f" {name}={quoteattr(text)}")
    return "".join(parts)


def verb(name: str, body: str = "", **attributes: object) -> str:
    if not body:
        return f"<{name}{_attrs(attributes)}/>"
    return f"<{name}{_attrs(attributes)}>{body}</{name}>"


def say(text: str, language: str) -> str:
    return verb("Say", escape(text), language=SAY_LANGUAGES.get(language, "en-US"))


def play(url: str, *, loop: int | None = None) -> str:
    return verb("Play", escape(url), loop=loop)


def prompt(text: str, language: str, audio_url: str | None) -> str:
    """The admin's audio file if there is one, else the text spoken in `language`."""
    return play(audio_url) if audio_url else say(text, language)


def gather(body: str, *, action: str, num_digits: int = 1, timeout: int = 5) -> str:
    return verb("Gather", body, action=action, method="POST", numDigits=num_digits, timeout=timeout)


def redirect(url: str) -> str:
    return verb("Redirect", escape(url), method="POST")


def response(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"
