"""The activity log: every change to a conversation is an event, read back as who / what /
when over the API and as quiet lines in the desktop timeline (translated, bidi-isolated)."""

from __future__ import annotations

import re

from tests.conftest import inbound_payload, post_inbound
from tests.web.test_desk import login


async def opened(
    client, cast, external_id: str = "act-1", address: str = "layla@example.com"
) -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, cast.website, inbound_payload(external_id, address))
    assert response.status_code == 202, response.text
    return int(response.json()["conversation_id"])


async def activity(client, person, conversation: int, **params) -> dict:  # type: ignore[no-untyped-def]
    response = await client.get(
        f"/api/v1/conversations/{conversation}/activity", params=params, headers=person.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestApi:
    async def test_each_change_is_a_line_with_who_and_values(self, client, cast):
        found = await opened(client, cast)
        patch = f"/api/v1/conversations/{found}"
        for body in (
            {"assignee_id": cast.alice.id, "priority": "urgent"},
            {"tags": ["vip", "refund"]},
            {"tags": ["vip"]},
            {"status": "snoozed", "snoozed_until": "2031-01-02T03:04:00Z"},
            {"assignee_id": None},
            {"priority": "urgent"},  # no change: no line
        ):
            assert (await client.patch(patch, json=body, headers=cast.sara.headers)).is_success
        items = (await activity(client, cast.ada, found))["items"]
        lines = [(i["kind"], i["by_agent_id"], i["old"], i["new"]) for i in items]
        sara = cast.sara.id
        assert lines == [
            ("opened", None, None, None),
            ("assigned", sara, None, cast.alice.id),
            ("priority", sara, "normal", "urgent"),
            ("tags_added", sara, None, ["refund", "vip"]),
            ("tags_removed", sara, ["refund"], None),
            ("status", sara, "open", "snoozed"),
            ("snoozed", sara, None, "2031-01-02T03:04:00+00:00"),
            ("unassigned", sara, cast.alice.id, None),
        ]
        assert all(item["at"] for item in items)

    async def test_a_customer_reopening_it_is_the_system(self, client, cast):
        found = await opened(client, cast)
        await client.patch(
            f"/api/v1/conversations/{found}",
            json={"status": "snoozed", "snoozed_until": "2031-01-01T00:00:00Z"},
            headers=cast.ada.headers,
        )
        await post_inbound(client, cast.website, inbound_payload("act-2", "layla@example.com"))
        items = (await activity(client, cast.ada, found))["items"]
        assert [(i["kind"], i["by_agent_id"], i["new"]) for i in items[-2:]] == [
            ("snoozed", cast.ada.id, "2031-01-01T00:00:00+00:00"),
            ("status", None, "open"),
        ]

    async def test_a_merge_shows_on_the_customers_conversations(self, client, cast):
        found = await opened(client, cast)
        other = await post_inbound(client, cast.website, inbound_payload("act-3", "l2@example.com"))
        keep = (await client.get(f"/api/v1/conversations/{found}", headers=cast.ada.headers)).json()
        merged = await client.post(
            f"/api/v1/customers/{keep['customer_id']}/merge",
            json={"other_id": other.json()["customer_id"]},
            headers=cast.ada.headers,
        )
        assert merged.status_code == 200, merged.text
        last = (await activity(client, cast.ada, found))["items"][-1]
        assert (last["kind"], last["by_agent_id"], last["old"], last["new"]) == (
            "merged", cast.ada.id, other.json()["customer_id"], keep["customer_id"],
        )  # fmt: skip

    async def test_pages_by_cursor(self, client, cast):
        found = await opened(client, cast)
        for priority in ("high", "low", "urgent"):
            await client.patch(
                f"/api/v1/conversations/{found}",
                json={"priority": priority},
                headers=cast.ada.headers,
            )
        first = await activity(client, cast.ada, found, limit=2)
        rest = await activity(client, cast.ada, found, limit=2, cursor=first["next_cursor"])
        kinds = [i["new"] for i in first["items"] + rest["items"]]
        assert kinds == [None, "high", "low", "urgent"]
        assert rest["next_cursor"] is not None  # exactly `limit` read: there may be more
        tail = await activity(client, cast.ada, found, limit=2, cursor=rest["next_cursor"])
        assert tail == {"items": [], "next_cursor": None}

    async def test_outside_the_team_it_is_not_found(self, client, cast):
        found = await opened(client, cast)
        response = await client.get(
            f"/api/v1/conversations/{found}/activity", headers=cast.bob.headers
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_a_bad_cursor_is_a_422(self, client, cast):
        found = await opened(client, cast)
        response = await client.get(
            f"/api/v1/conversations/{found}/activity?cursor=!!", headers=cast.ada.headers
        )
        assert response.status_code == 422


class TestTimeline:
    async def test_lines_in_persian_with_isolated_names_and_persian_digits(self, client, cast):
        found = await opened(client, cast)
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}",
            json={"language": "fa"},
            headers=cast.ada.headers,
        )
        await client.patch(
            f"/api/v1/conversations/{found}",
            json={"assignee_id": cast.alice.id, "tags": ["<b>x</b>"]},
            headers=cast.sara.headers,
        )
        await login(client, cast.alice)
        page = (await client.get(f"/conversations/{found}")).text
        lines = re.findall(r'data-testid="fd-activity" data-kind="(\w+)">(.*?)</li>', page)
        kinds = [kind for kind, _ in lines]
        assert kinds == ["opened", "assigned", "tags_added"]
        text = dict(lines)
        assert text["assigned"].startswith("<bdi>Sara</bdi> این گفتگو را به <bdi>Alice</bdi>")
        assert "<bdi>&lt;b&gt;x&lt;/b&gt;</bdi>" in text["tags_added"]  # escaped, never markup
        # The time is localised: Persian digits, no Western ones.
        shown = re.sub(r"<[^>]+>", "", text["opened"])
        assert re.search("[\\u06f0-\\u06f9]", shown) and not re.search("[0-9]", shown)


class TestSlaLines:
    def test_warnings_and_breaches_are_lines_with_the_clock_named(self):
        from datetime import UTC, datetime

        from frontdesk.conversations.activity import lines
        from frontdesk.kit.events import Event
        from frontdesk.kit.i18n import translator
        from frontdesk.web.activity_text import describe

        at = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
        breached = Event(sequence=9, type="sla.breached", at=at, payload={"kind": "first_response"})
        [item] = lines(breached)
        assert (item.kind, item.new, item.by_agent_id) == ("sla_breached", "first_response", None)
        text = describe(item, gettext=translator("fa"), lang="fa", agents={}, teams={})
        assert text == "نقض توافق سطح خدمت: <bdi>هدف نخستین پاسخ</bdi> از دست رفت"
        assert lines(Event(sequence=10, type="sla.updated", at=at, payload={}))[0].kind == (
            "sla.updated"
        )  # shown only if the log selects it: activity_events reads warnings and breaches
