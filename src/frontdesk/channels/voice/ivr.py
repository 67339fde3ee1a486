"""What the caller hears: the TwiML of each step of the IVR, in the caller's language.
Pure functions of the inbox settings and the call (no I/O)."""

from __future__ import annotations

from frontdesk.channels.voice import twiml
from frontdesk.channels.voice.schemas import VoiceSettings
from frontdesk.kit.i18n import translator

# The digit that asks for a callback while waiting (keeps the caller's place).
CALLBACK_DIGIT = "*"
# Seconds of hold between position announcements when there is no hold music.
HOLD_PAUSE = 15


def language_menu(conf: VoiceSettings, hook: str) -> str:
    """ "For Arabic press 1, for Persian press 2..." each line in its own language; no input
    takes the first language."""
    if conf.welcome_audio_url:
        body = twiml.play(conf.welcome_audio_url)
    else:
        body = "".join(
            twiml.say(translator(lang)("For English, press {digit}.", digit=index), lang)
            for index, lang in enumerate(conf.languages, start=1)
        )
    action = hook + "/language"
    return twiml.response(twiml.gather(body, action=action), twiml.redirect(action))


def queue_menu(conf: VoiceSettings, lang: str, hook: str, *, again: bool = False) -> str:
    _ = translator(lang)
    prompts = conf.prompts(lang)
    text = prompts.menu_text or " ".join(
        _("For {label}, press {digit}.", label=label or str(queue), digit=int(digit))
        for digit, queue, label in conf.choices()
    )
    body = twiml.prompt(text, lang, prompts.menu_audio_url)
    sorry = twiml.say(_("Sorry, that is not a choice."), lang) if again else ""
    action = hook + "/menu"
    return twiml.response(sorry, twiml.gather(body, action=action), twiml.redirect(action))


def holding(conf: VoiceSettings, lang: str, hook: str, *, position: int) -> str:
    """The position announcement, the callback offer, then hold music; the provider comes
    back to /wait when it ends (or to /hold when the caller presses a key)."""
    _ = translator(lang)
    body = twiml.say(_("You are number {position} in the queue.", position=position), lang)
    body += twiml.say(_("To be called back without losing your place, press star."), lang)
    body += (
        twiml.play(conf.hold_music_url)
        if conf.hold_music_url
        else twiml.verb("Pause", length=HOLD_PAUSE)
    )
    return twiml.response(
        twiml.gather(body, action=hook + "/hold", timeout=1), twiml.redirect(hook + "/wait")
    )


def connecting(conf: VoiceSettings, lang: str, hook: str, *, agent_id: int, query: str = "") -> str:
    """Ring the agent's softphone (a provider client named agent-ID), recorded if the inbox
    records calls; /dialed hears how it ended."""
    _ = translator(lang)
    client = twiml.verb(
        "Client",
        f"agent-{agent_id}",
        statusCallbackEvent="answered",
        statusCallback=hook + "/agent-leg" + query,
        statusCallbackMethod="POST",
    )
    record = conf.record_calls
    dial = twiml.verb(
        "Dial",
        client,
        action=hook + "/dialed" + query,
        method="POST",
        timeout=20,
        record="record-from-answer-dual" if record else None,
        recordingStatusCallback=hook + "/recording" + query if record else None,
        recordingStatusCallbackMethod="POST" if record else None,
    )
    return twiml.response(twiml.say(_("Please hold while we connect you."), lang), dial)


def callback_taken(lang: str) -> str:
    _ = translator(lang)
    text = _("We will call you back. You keep your place in the queue. Goodbye.")
    return twiml.response(twiml.say(text, lang), twiml.verb("Hangup"))


def voicemail(conf: VoiceSettings, hook: str) -> str:
    """After hours: the voicemail prompt in every language of the menu, then the beep."""
    parts = []
    for lang in conf.languages:
        prompts = conf.prompts(lang)
        text = prompts.voicemail_text or translator(lang)(
            "We are closed now. Please leave a message after the beep."
        )
        parts.append(twiml.prompt(text, lang, prompts.voicemail_audio_url))
    record = twiml.verb(
        "Record",
        action=hook + "/voicemail",
        method="POST",
        maxLength=conf.voicemail_max_seconds,
        playBeep=True,
        recordingStatusCallback=hook + "/recording",
        recordingStatusCallbackMethod="POST",
    )
    return twiml.response(*parts, record, twiml.verb("Hangup"))


def goodbye(lang: str, text: str = "Thank you for your message. Goodbye.") -> str:
    return twiml.response(twiml.say(translator(lang)(text), lang), twiml.verb("Hangup"))


def hangup() -> str:
    return twiml.response(twiml.verb("Hangup"))


HANGUP = hangup()
