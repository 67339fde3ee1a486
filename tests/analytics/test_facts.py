"""The metrics' formulas on hand-built histories with known answers, and the invariants of
the incremental fold (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.analytics import facts as f
from frontdesk.analytics.reports import metrics
from frontdesk.sla import businesstime

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def created(minute: float = 0) -> dict[str, Any]:
    return {"type": "conversation.created", "at": at(minute), "inbox_id": 1, "payload": {}}


def message(minute: float, direction: str, author: str = "customer", **extra: Any) -> dict:
    payload = {"direction": direction, "author_kind": author, "channel": "email", **extra}
    return {"type": "message.created", "at": at(minute), "inbox_id": 1, "payload": payload}


def status(minute: float, before: str, after: str) -> dict[str, Any]:
    payload = {"from": before, "to": after}
    return {"type": "conversation.status_changed", "at": at(minute), "payload": payload}


def folded(*events: dict[str, Any], tags: tuple[int, ...] = ()) -> f.Facts:
    facts = f.Facts(1)
    for event in events:
        f.apply(facts, event)
    f.refile(facts, f.Dimensions(1, 5, 7, tags, facts.status))
    return facts


def totals(*many: f.Facts) -> dict[str, int]:
    sums: dict[str, int] = {}
    for facts in many:
        for row in (r for k, r in f.contribution(facts).items() if k[5] == 0):
            for name, value in row.items():
                sums[name] = sums.get(name, 0) + value
    return sums


class TestFirstResponse:
    def test_counts_from_the_first_customer_message_to_the_first_agent_reply(self) -> None:
        facts = folded(created(), message(0, "inbound"), message(5, "outbound", "agent"))
        m = metrics(totals(facts))
        assert m.first_responses == 1
        assert m.first_response_avg_seconds == 300
        assert totals(facts)["frt_b2"] == 1  # 5 min falls in [5 min, 15 min)

    def test_bot_and_automated_replies_are_not_a_first_response(self) -> None:
        facts = folded(
            created(),
            message(0, "inbound"),
            message(1, "outbound", "bot"),
            message(2, "outbound", "agent", automated=True),
            message(30, "outbound", "agent"),
        )
        assert metrics(totals(facts)).first_response_avg_seconds == 1800

    def test_a_conversation_we_opened_has_no_first_response(self) -> None:
        facts = folded(created(), message(0, "outbound", "agent"), message(9, "inbound"))
        assert metrics(totals(facts)).first_responses == 0


def business(facts: f.Facts, calendar: businesstime.Calendar | None) -> f.Facts:
    f.count_business(facts, 3, calendar)
    return facts


# Office hours 09:00-17:00 Monday to Friday in Tehran (UTC+03:30, no DST since 2022), and
# the Friday 2026-11-06 a holiday.
OFFICE = businesstime.calendar(
    "Asia/Tehran",
    {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    ["2026-11-06"],
)


class TestBusinessHours:
    def test_first_response_across_a_night_counts_only_office_time(self) -> None:
        # Monday 16:50 Tehran (13:20 UTC) → Tuesday 09:10 Tehran (05:40 UTC): 20 minutes.
        facts = folded(created(200), message(200, "inbound"), message(1180, "outbound", "agent"))
        m = metrics(totals(business(facts, OFFICE)))
        assert m.first_response_avg_seconds == 20 * 60
        assert m.first_response_avg_wall_seconds == 980 * 60

    def test_a_weekend_and_a_holiday_do_not_count(self) -> None:
        # Thursday 2026-11-05 16:00 Tehran (12:30 UTC) → resolved Monday 2026-11-09 10:00
        # Tehran (06:30 UTC): Thursday 1 h, Friday a holiday, weekend, Monday 1 h = 2 h.
        start = datetime(2026, 11, 5, 12, 30, tzinfo=UTC)
        minutes = (start - T0).total_seconds() / 60
        end = minutes + (datetime(2026, 11, 9, 6, 30, tzinfo=UTC) - start).total_seconds() / 60
        facts = folded(
            created(minutes), message(minutes, "inbound"),
            message(minutes + 30, "outbound", "agent"), status(end, "open", "resolved"),
        )  # fmt: skip
        m = metrics(totals(business(facts, OFFICE)))
        assert m.resolution_avg_seconds == 2 * 3600
        assert m.resolution_avg_wall_seconds == (end - minutes) * 60
        assert m.first_response_avg_seconds == 30 * 60
        assert m.handle_avg_seconds == 2 * 3600 - 30 * 60

    def test_without_a_calendar_business_time_is_the_wall_clock(self) -> None:
        facts = folded(created(), message(0, "inbound"), message(5, "outbound", "agent"))
        m = metrics(totals(business(facts, None)))
        assert m.first_response_avg_seconds == m.first_response_avg_wall_seconds == 300
        assert facts.calendar_id == 0

    def test_a_later_calendar_takes_back_the_old_contribution_exactly(self) -> None:
        facts = folded(created(200), message(200, "inbound"), message(1180, "outbound", "agent"))
        stored = business(facts, None)
        after = business(stored.copy(), OFFICE)
        delta = f.difference(f.contribution(stored), f.contribution(after))
        sums = totals(stored)
        for key, row in delta.items():
            if key[5] == 0:
                for name, value in row.items():
                    sums[name] = sums.get(name, 0) + value
        assert {k: v for k, v in sums.items() if v} == totals(after)
        assert metrics(sums).first_response_avg_seconds == 20 * 60


class TestResolution:
    def test_one_reply_then_resolved_is_a_first_contact_resolution(self) -> None:
        facts = folded(
            created(), message(0, "inbound"), message(5, "outbound", "agent"),
            status(30, "open", "resolved"),
        )  # fmt: skip
        m = metrics(totals(facts))
        assert (m.resolved, m.first_contact_resolution_rate, m.reopen_rate) == (1, 1.0, 0.0)
        assert m.resolution_avg_seconds == 1800
        assert m.handle_avg_seconds == 25 * 60

    def test_a_reopened_conversation_counts_once_as_reopened_and_not_fcr(self) -> None:
        facts = folded(
            created(), message(0, "inbound"), message(5, "outbound", "agent"),
            status(30, "open", "resolved"), message(60, "inbound"),
            status(60, "resolved", "open"), message(70, "outbound", "agent"),
            status(90, "open", "resolved"), status(95, "resolved", "closed"),
        )  # fmt: skip
        m = metrics(totals(facts))
        assert (m.resolved, m.reopen_rate, m.first_contact_resolution_rate) == (1, 1.0, 0.0)
        assert m.resolution_avg_seconds == 90 * 60  # to the last resolution, not closing

    def test_two_agent_replies_are_not_first_contact(self) -> None:
        facts = folded(
            created(), message(0, "inbound"), message(5, "outbound", "agent"),
            message(6, "outbound", "agent"), status(30, "open", "resolved"),
        )  # fmt: skip
        assert metrics(totals(facts)).first_contact_resolution_rate == 0.0

    def test_reopen_rate_and_fcr_over_a_mix(self) -> None:
        simple = folded(created(), message(0, "inbound"), message(1, "outbound", "agent"),
                        status(2, "open", "resolved"))  # fmt: skip
        reopened = folded(created(), message(0, "inbound"), status(2, "open", "resolved"),
                          status(3, "resolved", "open"), status(4, "open", "resolved"))  # fmt: skip
        still_open = folded(created(), message(0, "inbound"))
        m = metrics(totals(simple, simple, reopened, still_open))
        assert (m.volume, m.resolved) == (4, 3)
        assert m.reopen_rate == round(1 / 3, 4)
        assert m.first_contact_resolution_rate == round(2 / 3, 4)
        assert totals(simple, reopened, still_open)["open_now"] == 1


def sla(minute: int, what: str, target: str, state: str, breached: bool = False) -> dict[str, Any]:
    payload = {
        "kind": target,
        "state": state,
        "breached_at": at(minute).isoformat() if breached else None,
    }
    return {"type": f"sla.{what}", "at": at(minute), "payload": payload}


class TestSeams:
    def test_survey_and_sla_events_fill_their_columns(self) -> None:
        def survey(kind: str, score: int | None) -> dict[str, Any]:
            payload = {"kind": kind, "score": score, "status": "answered"}
            return {"type": "survey.answered", "at": at(50), "payload": payload}

        events = [created(), message(0, "inbound"), survey("csat", 5), survey("ces", 3),
                  survey("nps", 10), sla(5, "updated", "first_response", "met"),
                  sla(9, "breached", "resolution", "running")]  # fmt: skip
        other = folded(created(), survey("csat", 2), survey("nps", 3), survey("ces", None))
        m = metrics(totals(folded(*events), other))
        assert (m.csat_percent, m.csat_responses) == (50.0, 2)
        assert (m.ces_average, m.nps, m.sla_adherence) == (3.0, 0.0, 0.5)

    def test_each_sla_target_counts_once_and_a_breach_is_final(self) -> None:
        facts = folded(
            created(),
            sla(1, "updated", "first_response", "running"),
            sla(2, "updated", "first_response", "met"),
            sla(3, "updated", "first_response", "met"),  # stopped again after a reopen
            sla(4, "breached", "resolution", "running"),
            sla(5, "updated", "resolution", "met", breached=True),
        )
        assert (facts.sla_met, facts.sla_breached) == (1, 1)


class TestTags:
    def test_tag_rows_repeat_the_conversation_once_per_tag(self) -> None:
        facts = folded(created(), message(0, "inbound"), tags=(3, 4))
        rows = f.contribution(facts)
        assert sorted(k[5] for k in rows) == [0, 3, 4]
        assert all(row["created"] == 1 for row in rows.values())


# Property tests: arbitrary event sequences, split into arbitrary batches, with dimensions
# that move between batches, always leave rollups equal to a rebuild from scratch.

STEPS = st.sampled_from(["in", "agent", "bot", "resolve", "reopen", "close", "csat", "sla"])


def _events(conversation_id: int, steps: list[str]) -> Iterator[dict[str, Any]]:
    state = "open"
    yield {**created(conversation_id), "conversation_id": conversation_id}
    for minute, step in enumerate(steps, start=1):
        moment = conversation_id * 7 + minute * 13
        event: dict[str, Any]
        if step in ("in", "agent", "bot"):
            direction = "inbound" if step == "in" else "outbound"
            event = message(moment, direction, "customer" if step == "in" else step,
                            channel=("email", "sms", "webchat")[conversation_id % 3])  # fmt: skip
        elif step == "csat":
            event = {"type": "survey.answered", "at": at(moment),
                     "payload": {"kind": "csat", "score": minute % 5 + 1}}  # fmt: skip
        elif step == "sla":
            event = sla(moment, "updated", ("first_response", "resolution")[minute % 2], "met")
        else:
            after = {"resolve": "resolved", "reopen": "open", "close": "closed"}[step]
            event, state = status(moment, state, after), after
        yield {**event, "conversation_id": conversation_id}


histories = st.lists(st.lists(STEPS, max_size=12), min_size=1, max_size=6)


def _where(ids: list[int], salt: int) -> dict[int, f.Dimensions]:
    return {
        i: f.Dimensions(1 + (i + salt) % 2, (i * salt) % 3, (i + salt) % 4,
                        tuple(sorted({(i + salt) % 3 + 1, 5})) if salt % 2 else (), "open")
        for i in ids
    }  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(histories, st.lists(st.integers(1, 9), min_size=1, max_size=30), st.integers(0, 5))
def test_incremental_rollups_equal_a_rebuild(
    steps: list[list[str]], cuts: list[int], salt: int
) -> None:
    ids = list(range(1, len(steps) + 1))
    log = sorted(
        (e for i in ids for e in _events(i, steps[i - 1])), key=lambda e: (e["at"], e["type"])
    )
    stored: dict[int, f.Facts] = {}
    rollups: dict[f.Key, dict[str, int]] = {}
    position, round_ = 0, 0
    while position < len(log):
        size = cuts[round_ % len(cuts)]
        batch, position, round_ = log[position : position + size], position + size, round_ + 1
        grouped: dict[int, list[dict[str, Any]]] = {}
        for event in batch:
            grouped.setdefault(event["conversation_id"], []).append(event)
        # The dimensions move between batches; the last batch sees the final ones.
        where = _where(ids, salt if position >= len(log) else salt + round_)
        changed, _, delta = f.fold_batch(stored, grouped, where)
        stored.update({facts.conversation_id: facts for facts in changed})
        f.merge(rollups, delta)
    # A rebuild folds every event in one batch, with the final dimensions... but the
    # incremental side filed a conversation under the dimensions of its LAST batch: refile
    # untouched conversations as a final no-op event would (what a dimension change does).
    final: dict[int, list[dict[str, Any]]] = {}
    for event in log:
        final.setdefault(event["conversation_id"], []).append(event)
    rebuilt: dict[f.Key, dict[str, int]] = {}
    _, _, full = f.fold_batch({}, final, _where(ids, salt))
    f.merge(rebuilt, full)
    touch = {i: [{"type": "conversation.updated", "at": at(0), "payload": {}}] for i in ids}
    _, _, refiled = f.fold_batch(stored, touch, _where(ids, salt))
    f.merge(rollups, refiled)
    assert _nonzero(rollups) == _nonzero(rebuilt)
    # Counts per channel add up to the total, and the total is the number of conversations.
    every = [row for key, row in _nonzero(rebuilt).items() if key[5] == 0]
    assert sum(row.get("created", 0) for row in every) == len(ids)
    per_channel: dict[str, int] = {}
    for key, row in _nonzero(rebuilt).items():
        if key[5] == 0:
            per_channel[key[2]] = per_channel.get(key[2], 0) + row.get("created", 0)
    assert sum(per_channel.values()) == len(ids)
    resolved = sum(row.get("resolved", 0) for row in every)
    assert resolved == sum(1 for i in ids if stored[i].status in f.CLOSED)
    assert sum(row.get("fcr", 0) for row in every) <= resolved


def _nonzero(rows: dict[f.Key, dict[str, int]]) -> dict[f.Key, dict[str, int]]:
    cleaned = {k: {n: v for n, v in r.items() if v} for k, r in rows.items()}
    return {k: r for k, r in cleaned.items() if r}


@pytest.mark.parametrize("seconds,bucket", [(0, 0), (59, 0), (60, 1), (299, 1), (86400, 6)])
def test_first_response_buckets(seconds: int, bucket: int) -> None:
    assert f.frt_bucket(seconds) == bucket
