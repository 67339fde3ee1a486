"""Several weeks of a small shop's customer service for the demo (issue 14 item 6): about 200
conversations across every channel the demo has, in English, Arabic and Persian, some
resolved, some snoozed, some waiting for an answer. People who write on several channels
(the same number on SMS and WhatsApp) are one customer. Deterministic: one seed, one story."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Conversation
from frontdesk.conversations.schemas import ConversationUpdate, ReplyCreate
from frontdesk.customers import repository as customers_repository
from frontdesk.customers import service as customers
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound
from frontdesk.kit.errors import Invalid
from frontdesk.kit.events import PENDING_EVENTS
from frontdesk.kit.i18n import localise_digits
from frontdesk.runtime import Runtime

# Customer messages written; some continue an open conversation, so about 200 conversations.
EVENTS = 258
DAYS = 42

# (language, subject, what the customer writes, what the agent answers)
TOPICS = [
    ("en", "Where is my order?", "Hi, my order #{n} has not arrived yet. Can you check?",
     "Sorry for the wait! Order #{n} left our warehouse yesterday; it arrives within 2 days."),
    ("en", "Refund", "I returned the jacket last week. When do I get my refund for #{n}?",
     "The refund for #{n} is on its way: 3 to 5 working days to show on your card."),
    ("en", "Wrong size", "The boots from order #{n} are one size too small.",
     "No problem, we will swap them. A prepaid return label is in your e-mail."),
    ("en", "Delivery address", "Can I still change the delivery address of #{n}?",
     "Done: #{n} now goes to the new address."),
    ("ar", "أين طلبي؟", "مرحبا، لم يصل طلبي رقم {n} بعد. هل يمكنكم التحقق؟",
     "نعتذر عن التأخير! خرج الطلب {n} من المستودع أمس وسيصل خلال يومين."),
    ("ar", "استرداد المبلغ", "أعدت المنتج الأسبوع الماضي، متى أسترد المبلغ للطلب {n}؟",
     "تمت معالجة الاسترداد للطلب {n}، سيظهر في حسابك خلال ثلاثة إلى خمسة أيام عمل."),
    ("ar", "مقاس خاطئ", "الحذاء في الطلب {n} أصغر من مقاسي.",
     "لا مشكلة، سنستبدله لك. أرسلنا ملصق الإرجاع إلى بريدك."),
    ("fa", "سفارش من کجاست؟", "سلام، سفارش {n} من هنوز نرسیده. لطفاً بررسی کنید.",
     "پوزش برای تأخیر! سفارش {n} دیروز از انبار خارج شد و تا دو روز دیگر می‌رسد."),
    ("fa", "بازپرداخت", "هفتهٔ پیش کالا را پس فرستادم. بازپرداخت سفارش {n} کی انجام می‌شود؟",
     "بازپرداخت سفارش {n} انجام شد و طی سه تا پنج روز کاری به حساب شما می‌رسد."),
    ("fa", "تغییر نشانی", "آیا هنوز می‌توانم نشانی تحویل سفارش {n} را عوض کنم؟",
     "انجام شد: سفارش {n} به نشانی تازه فرستاده می‌شود."),
]  # fmt: skip

FIRST = {
    "en": ["Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Ethan"],
    "ar": ["Ahmad", "Fatima", "Yousef", "Mariam", "Khalid", "Noor", "Hassan", "Salma", "Ali"],
    "fa": ["Sara", "Amir", "Niloufar", "Dariush", "Shirin", "Kaveh", "Parisa", "Babak", "Maryam"],
}
LAST = {
    "en": ["Brown", "Taylor", "Wilson", "Clark", "Lewis", "Walker"],
    "ar": ["Haddad", "Nasser", "Mansour", "Saleh", "Khoury", "Aziz"],
    "fa": ["Rahimi", "Karimi", "Hosseini", "Moradi", "Jafari", "Tehrani"],
}
PREFIX = {"en": "+1415555", "ar": "+96650123", "fa": "+98912345"}
# Where people of each language write, most likely first.
CHANNELS = {
    "en": ["email", "webchat", "messenger", "sms", "api", "whatsapp", "instagram", "telegram"],
    "ar": ["whatsapp", "sms", "instagram", "email", "webchat", "api", "messenger", "telegram"],
    "fa": ["telegram", "whatsapp", "instagram", "email", "sms", "api", "webchat", "messenger"],
}


@dataclass
class Person:
    number: int
    language: str
    name: str
    channels: list[str]

    def address(self, channel: str, inbox: Inbox) -> str:
        if channel in ("sms", "whatsapp", "sms_gateway"):
            return f"{PREFIX[self.language]}{self.number:04d}"
        if channel == "telegram":
            return str(7200000000 + self.number)
        if channel in ("messenger", "instagram"):
            return str(6100000000000000 + self.number)
        if channel == "webchat":
            return f"wc{inbox.id}-vhist{self.number:04d}"
        return f"{self.name.lower().replace(' ', '.')}{self.number}@example.com"


def _people(rng: random.Random, inboxes: dict[str, Inbox]) -> list[Person]:
    people = []
    for number in range(1, 71):
        language = rng.choice(["en", "en", "ar", "ar", "fa", "fa", "fa"])
        name = f"{rng.choice(FIRST[language])} {rng.choice(LAST[language])}"
        usual = [c for c in CHANNELS[language] if c in inboxes]
        # Some write on two or three channels; SMS and WhatsApp share the number.
        count = rng.choices([1, 2, 3], weights=[5, 3, 2])[0]
        channels = rng.sample(usual[:6], count) if count > 1 else usual[: rng.randint(1, 4)][-1:]
        pair = "whatsapp" in channels and "sms" in usual and "sms" not in channels
        if pair and rng.random() < 0.5:
            channels.append("sms")
        people.append(Person(number, language, name, channels))
    return people


async def seed_history(
    session: AsyncSession, runtime: Runtime, *, inboxes: list[Inbox], agents: list[Any]
) -> int:
    """The conversations, back-dated over the last DAYS days; returns how many were made."""
    story = Story(session, runtime, agents)
    by_channel: dict[str, Inbox] = {}
    for inbox in inboxes:
        by_channel.setdefault(inbox.channel, inbox)
    people = _people(story.rng, by_channel)
    moments = sorted(
        story.now - timedelta(days=story.rng.uniform(0.05, DAYS)) for _ in range(EVENTS)
    )
    made: set[int] = set()
    owners: dict[int, set[int]] = {}
    for index, when in enumerate(moments):
        person = story.rng.choice(people)
        inbox = by_channel[story.rng.choice(person.channels)]
        conversation = await story.tell(inbox, person, index=index, when=when)
        made.add(conversation.id)
        owners.setdefault(person.number, set()).add(conversation.customer_id)
    made |= await _moods(story, people, by_channel)
    await _one_customer_each(session, owners)
    return len(made)


# Follow-ups that give the sentiment features something to show (docs/sentiment.md): a few
# customers lose patience (their conversations turn frustrated and rise in priority once the
# sentiment job has run), a few say thanks. A separate seed, so the story above is unchanged.
MOODS = {
    "angry": {
        "en": "This is the third time I write and still nothing. Terrible service, "
        "I am really disappointed.",
        "ar": "هذه ثالث مرة أكتب لكم ولا يوجد رد. خدمة سيئة جدا وأنا غاضب.",
        "fa": "این سومین بار است که پیام می‌دهم و هیچ جوابی نگرفتم. خیلی بد است، واقعا ناراضی‌ام.",
    },
    "thankful": {
        "en": "Thanks a lot, you were very helpful!",
        "ar": "شكرا جزيلا، كنتم متعاونين جدا!",
        "fa": "خیلی ممنون، واقعا کمک کردید!",
    },
}


async def _moods(story: Story, people: list[Person], inboxes: dict[str, Inbox]) -> set[int]:
    rng = random.Random(13)
    made: set[int] = set()
    for language in ("en", "ar", "fa"):
        speakers = [p for p in people if p.language == language]
        for n, (mood, person) in enumerate(zip(MOODS, rng.sample(speakers, 2), strict=True)):
            inbox = inboxes[person.channels[0]]
            when = story.now - timedelta(minutes=rng.randint(5, 90))
            received = await conversations.receive(
                story.session,
                Inbound(
                    inbox_id=inbox.id,
                    external_id=f"history-mood-{language}-{n}",
                    address=person.address(inbox.channel, inbox),
                    name=person.name,
                    text=MOODS[mood][language],
                    raw_address_ok=inbox.channel == "email",
                ),
                blobs=story.runtime.blobs,
            )
            _at(received.message, when)
            received.conversation.language = language
            received.conversation.last_message_at = received.conversation.updated_at = when
            made.add(received.conversation.id)
    await story.session.flush()
    return made


async def _one_customer_each(session: AsyncSession, owners: dict[int, set[int]]) -> None:
    """A person's e-mail, chat and Telegram identities are one customer, as an agent would
    have merged them (SMS and WhatsApp on one number are one already)."""
    for ids in owners.values():
        keep_id, *others = sorted(ids)
        keep = await customers_repository.get_customer(session, keep_id)
        for other_id in others:
            other = await customers_repository.get_customer(session, other_id)
            if keep is not None and other is not None:
                await customers.merge(session, keep, other)


@dataclass
class Story:
    """One seeded run: the same seed tells the same weeks every time."""

    session: AsyncSession
    runtime: Runtime
    agents: list[Any]
    rng: random.Random = field(default_factory=lambda: random.Random(20261205))
    now: datetime = field(default_factory=utcnow)

    async def tell(
        self, inbox: Inbox, person: Person, *, index: int, when: datetime
    ) -> Conversation:
        """A customer writes at `when`; most are answered, resolved or snoozed after it."""
        language, subject, asked, answer = self.rng.choice(
            [t for t in TOPICS if t[0] == person.language]
        )
        order = localise_digits(str(4000 + index * 7), language)  # as people there type it
        inbound = Inbound(
            inbox_id=inbox.id,
            external_id=f"history-{index}",
            address=person.address(inbox.channel, inbox),
            name=person.name,
            text=asked.format(n=order),
            subject=subject if inbox.channel == "email" else None,
            raw_address_ok=inbox.channel == "email",
        )
        pending = len(self.session.info.get(PENDING_EVENTS, []))
        received = await conversations.receive(self.session, inbound, blobs=self.runtime.blobs)
        conversation = received.conversation
        conversation.language = language
        conversation.created_at = min(conversation.created_at, when)
        last = when
        if self.now - when > timedelta(hours=1) and self.rng.random() < 0.8:  # the rest waits
            last = await self._answer(conversation, answer.format(n=order), when)
        # Back-dated only now: the reply window is checked against the customer's message.
        _at(received.message, when)
        conversation.last_message_at = conversation.updated_at = last
        await self.session.flush()
        self._backdate(pending, conversation, asked=when, answered=last)
        return conversation

    def _backdate(
        self, pending: int, conversation: Conversation, *, asked: datetime, answered: datetime
    ) -> None:
        """The event log tells the story at its own times (the activity log reads in order and
        the report rollups fold it): the customer writes at `asked`, the agent takes and answers
        it at `answered`, and settles it (resolve, snooze) a little later, at least half an hour
        before now."""
        latest = max(answered, self.now - timedelta(minutes=31))
        settled = min(answered + timedelta(minutes=self.rng.randint(5, 600)), latest)
        for item in self.session.info.get(PENDING_EVENTS, [])[pending:]:
            if item["conversation_id"] != conversation.id:
                continue  # a merge of the person's customers happens today
            payload = item.get("payload") or {}
            if item["type"] == "conversation.created" or payload.get("direction") == "inbound":
                item["at"] = asked
            elif item["type"].startswith("message.") or "assignee_id" in (
                payload.get("values") or {}
            ):
                item["at"] = answered
            else:
                item["at"] = settled

    async def _answer(self, conversation: Conversation, text: str, asked: datetime) -> datetime:
        """An agent's answer (recorded as delivered, never sent), then resolve or snooze."""
        agent = self.rng.choice(self.agents)
        # Taken by the agent who answers (the activity log shows who and when), where they
        # serve the inbox (refused before anything changes otherwise).
        with contextlib.suppress(Invalid):
            await conversations.update(
                self.session, conversation, ConversationUpdate(assignee_id=agent.id), by=agent
            )
        reply = await conversations.reply(
            self.session, conversation, author=agent, data=ReplyCreate(text=text)
        )
        await conversations.mark_delivered(self.session, reply, status="delivered", remote_id=None)
        answered = asked + timedelta(minutes=self.rng.randint(3, 50))
        _at(reply, answered)
        fate = self.rng.random()
        if fate < 0.75:
            change = ConversationUpdate(status="resolved")
        elif fate < 0.88:
            later = self.now + timedelta(days=self.rng.randint(1, 5))
            change = ConversationUpdate(status="snoozed", snoozed_until=later)
        else:
            return answered
        await conversations.update(self.session, conversation, change, by=agent)
        return answered


def _at(message: Any, when: datetime) -> None:
    message.created_at = when
    message.sent_at = when
