"""The workspace's pages and forms (SQLite and PostgreSQL): a conversation opened from the
list keeps the list's query, the pane alone for htmx, the header partial, bulk changes (all or
nothing, per-conversation visibility), saved views, macros, the snooze picker in the agent's
time zone, preferences — and no per-row queries on the inbox page."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from tests.conftest import inbound_payload, post_inbound
from tests.web.test_views import csrf_of, log_in


async def opened(client, inbox, external_id: str, address: str = "layla@example.com") -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, inbox, inbound_payload(external_id, address))
    return int(response.json()["conversation_id"])


async def csrf(client) -> str:  # type: ignore[no-untyped-def]
    return csrf_of((await client.get("/")).text)


async def conversation(client, person, found: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.get(f"/api/v1/conversations/{found}", headers=person.headers)
    return dict(response.json())


class TestPanes:
    async def test_the_conversation_page_holds_the_list_with_its_filters(self, client, cast):
        found = await opened(client, cast.website, "p-1")
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{found}?view=all&status=open&channel=api")
        assert page.status_code == 200
        assert 'data-testid="fd-inbox-list"' in page.text  # the list pane
        assert f'id="fd-pane" class="pane" data-conversation-id="{found}"' in page.text
        assert 'data-testid="fd-toolbar"' in page.text
        # Every row and the way back keep the list's query.
        assert (
            f'href="/conversations/{found}?view=all&amp;status=open&amp;channel=api"' in page.text
        )
        assert (
            'href="/?view=all&amp;status=open&amp;channel=api" data-testid="fd-back"' in page.text
        )

    async def test_htmx_gets_the_pane_only(self, client, cast):
        found = await opened(client, cast.website, "p-2")
        await log_in(client, cast.alice)
        pane = await client.get(
            f"/conversations/{found}?view=mine",
            headers={"hx-request": "true", "hx-target": "fd-pane"},
        )
        assert pane.status_code == 200
        assert pane.text.lstrip().startswith("{#") is False
        assert 'id="fd-pane"' in pane.text and "fd-inbox-list" not in pane.text
        assert "<html" not in pane.text
        # A history restore wants the whole page.
        whole = await client.get(
            f"/conversations/{found}",
            headers={
                "hx-request": "true",
                "hx-target": "fd-pane",
                "hx-history-restore-request": "true",
            },
        )
        assert "<html" in whole.text and "fd-inbox-list" in whole.text

    async def test_a_conversation_out_of_reach_is_not_opened_in_the_pane(self, client, cast):
        theirs = await opened(client, cast.app, "p-3")
        await log_in(client, cast.alice)
        for headers in ({}, {"hx-request": "true", "hx-target": "fd-pane"}):
            response = await client.get(f"/conversations/{theirs}", headers=headers)
            assert response.status_code == 404
            response = await client.get(f"/conversations/{theirs}/header", headers=headers)
            assert response.status_code == 404

    async def test_the_header_names_channel_and_inbox_and_shows_chips(self, client, cast):
        found = await opened(client, cast.website, "p-4")
        await client.patch(
            f"/api/v1/conversations/{found}",
            json={"tags": ["vip"], "assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        await log_in(client, cast.alice)
        header = (await client.get(f"/conversations/{found}/header")).text
        assert 'API · <bdi dir="auto">Website</bdi>' in header
        assert (
            '<li class="chip tag"><span class="sr">Tag: </span><bdi dir="auto">vip</bdi>' in header
        )
        assert 'data-testid="fd-conv-assignee"' in header and "Alice" in header
        assert 'data-testid="fd-assign-me"' not in header  # already hers

    async def test_the_inbox_page_runs_no_query_per_row(self, client, cast, runtime):
        for n in range(3):
            await opened(client, cast.website, f"q-{n}", f"q{n}@example.com")
        await log_in(client, cast.alice)
        seen: list[int] = []

        def count(*_: object) -> None:
            seen.append(1)

        engine = runtime.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            await client.get("/")
            few = len(seen)
            for n in range(3, 25):
                await opened(client, cast.website, f"q-{n}", f"q{n}@example.com")
            seen.clear()
            page = await client.get("/")
            assert page.text.count('data-testid="fd-conversation-row"') == 25
            assert len(seen) == few  # the same statements for 3 rows as for 25
            assert few <= 30
        finally:
            event.remove(engine, "before_cursor_execute", count)

    async def test_the_list_runs_the_same_statements_for_10_rows_as_for_50(
        self, client, cast, runtime
    ):
        """Each row has its own customer and tags and an SLA-less inbox: nothing per row, on
        the full page, the list partial and the teams view alike."""

        async def add(start: int, stop: int) -> None:
            for n in range(start, stop):
                found = await opened(client, cast.website, f"r-{n}", f"r{n}@example.com")
                await client.patch(
                    f"/api/v1/conversations/{found}",
                    json={"tags": [f"t{n % 3}", "row"]},
                    headers=cast.ada.headers,
                )

        seen: list[int] = []

        def count(*_: object) -> None:
            seen.append(1)

        async def statements(url: str, rows: int) -> int:
            seen.clear()
            page = await client.get(url)
            assert page.status_code == 200
            assert page.text.count('data-testid="fd-conversation-row"') == rows, url
            return len(seen)

        urls = ("/", "/partials/inbox", "/?view=all&status=open&tag=row")
        await add(0, 10)
        await log_in(client, cast.alice)
        engine = runtime.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            few = [await statements(url, 10) for url in urls]
            await add(10, 50)
            many = [await statements(url, 50) for url in urls]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert many == few

    async def test_the_teams_view_holds_the_conversations_of_the_agents_teams(self, client, cast):
        """The teams view filters on the ids of the agent's teams and of the inboxes they
        serve (desk.repository.team_scope): the same rows and counts as before."""
        mine = await opened(client, cast.website, "tv-1", "tv1@example.com")
        await log_in(client, cast.alice)
        page = await client.get("/?view=teams&status=open")
        assert f'data-conversation-id="{mine}"' in page.text
        await log_in(client, cast.ada)  # an admin in no team: an empty teams view
        page = await client.get("/?view=teams&status=open")
        assert 'data-testid="fd-conversation-row"' not in page.text
        page = await client.get("/?view=all&status=open")
        assert f'data-conversation-id="{mine}"' in page.text


class TestBulkForm:
    async def test_assigns_and_tags_the_ticked_rows_and_goes_back_to_the_list(self, client, cast):
        first = await opened(client, cast.website, "b-1", "one@example.com")
        second = await opened(client, cast.website, "b-2", "two@example.com")
        await log_in(client, cast.alice)
        response = await client.post(
            "/conversations/bulk",
            data={
                "csrf": await csrf(client),
                "back": "/?view=all&status=open",
                "ids": [str(first), str(second)],
                "assignee": str(cast.alice.id),
                "status": "",
                "tag": "wholesale",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/?view=all&status=open"
        for found in (first, second):
            got = await conversation(client, cast.alice, found)
            assert got["assignee_id"] == cast.alice.id and got["tags"] == ["wholesale"]

    async def test_one_row_out_of_reach_changes_nothing(self, client, cast):
        mine = await opened(client, cast.website, "b-3")
        theirs = await opened(client, cast.app, "b-4")
        await log_in(client, cast.alice)
        response = await client.post(
            "/conversations/bulk",
            data={"csrf": await csrf(client), "ids": [str(mine), str(theirs)], "status": "closed"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/?bulk_error=not_found"
        assert (await conversation(client, cast.alice, mine))["status"] == "open"
        page = await client.get(response.headers["location"])
        assert "One of the conversations is out of your reach" in page.text

    async def test_back_never_leaves_the_site_and_csrf_is_checked(self, client, cast):
        found = await opened(client, cast.website, "b-5")
        await log_in(client, cast.alice)
        response = await client.post(
            "/conversations/bulk",
            data={
                "csrf": await csrf(client),
                "back": "//evil.example/",
                "ids": [str(found)],
                "status": "pending",
            },
        )
        assert response.headers["location"] == "/"
        refused = await client.post(
            "/conversations/bulk", data={"csrf": "wrong", "ids": [str(found)], "status": "open"}
        )
        assert refused.status_code in (401, 403)

    async def test_nothing_ticked_is_a_clear_error(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.post(
            "/conversations/bulk", data={"csrf": await csrf(client), "status": "closed"}
        )
        assert response.headers["location"] == "/?bulk_error=invalid"


class TestSavedViewForms:
    async def test_saving_keeps_only_the_inbox_parameters(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.post(
            "/views",
            data={
                "csrf": await csrf(client),
                "name": "Mine, urgent",
                "query": "view=mine&priority=urgent&x=<script>",
                "share": "",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/?view=mine&priority=urgent"
        page = await client.get("/")
        assert 'href="/?view=mine&amp;priority=urgent" data-testid="fd-saved-view"' in page.text

    async def test_an_agent_cannot_share_with_everyone(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.post(
            "/views",
            data={"csrf": await csrf(client), "name": "All", "query": "", "share": "all"},
        )
        assert "bulk_error=forbidden" in response.headers["location"]


class TestMacroForms:
    async def test_create_then_apply_from_the_toolbar(self, client, cast):
        found = await opened(client, cast.website, "m-1")
        await log_in(client, cast.alice)
        token = await csrf(client)
        made = await client.post(
            "/settings/macros",
            data={
                "csrf": token,
                "name": "Close it",
                "text": "Done, {{agent.first_name}}.",
                "status": "resolved",
                "tags": "done, quick",
                "assign": str(cast.alice.id),
            },
        )
        assert made.headers["location"] == "/settings/macros"
        page = await client.get("/settings/macros")
        assert "Close it" in page.text
        [macro] = (await client.get("/api/v1/macros", headers=cast.alice.headers)).json()
        assert macro["assign"] == "agent" and macro["assignee_id"] == cast.alice.id
        applied = await client.post(
            f"/conversations/{found}/macro",
            data={"csrf": token, "macro": str(macro["id"])},
            headers={"hx-request": "true"},
        )
        assert applied.status_code == 204
        got = await conversation(client, cast.alice, found)
        assert got["status"] == "resolved" and got["tags"] == ["done", "quick"]

    async def test_an_agent_cannot_make_a_shared_macro(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.post(
            "/settings/macros",
            data={"csrf": await csrf(client), "name": "x", "status": "closed", "shared": "on"},
        )
        assert response.headers["location"] == "/settings/macros?error=forbidden"
        page = await client.get(response.headers["location"])
        assert "You may not do that" in page.text

    async def test_no_macro_chosen_is_a_sentence(self, client, cast):
        found = await opened(client, cast.website, "m-2")
        await log_in(client, cast.alice)
        response = await client.post(
            f"/conversations/{found}/macro",
            data={"csrf": await csrf(client), "macro": ""},
            headers={"hx-request": "true"},
        )
        assert response.status_code == 422 and "Choose a macro to apply." in response.text


class TestSnoozePicker:
    async def test_the_picked_time_is_read_in_the_agents_zone(self, client, cast):
        found = await opened(client, cast.website, "s-1")
        await client.patch(
            "/api/v1/me/preferences", json={"time_zone": "Asia/Tehran"}, headers=cast.alice.headers
        )
        await log_in(client, cast.alice)
        response = await client.post(
            f"/conversations/{found}/update",
            data={"csrf": await csrf(client), "snooze": "at", "snooze_at": "2031-06-01T08:00"},
        )
        assert response.status_code == 303
        got = await conversation(client, cast.alice, found)
        assert got["status"] == "snoozed"
        expected = datetime(2031, 6, 1, 8, 0, tzinfo=ZoneInfo("Asia/Tehran"))
        assert datetime.fromisoformat(got["snoozed_until"]) == expected

    async def test_a_time_in_the_past_or_nonsense_is_refused(self, client, cast):
        found = await opened(client, cast.website, "s-2")
        await log_in(client, cast.alice)
        token = await csrf(client)
        for value, text in (
            ("2001-01-01T08:00", "Pick a time in the future"),
            ("soon", "Pick a date and time"),
        ):
            response = await client.post(
                f"/conversations/{found}/update",
                data={"csrf": token, "snooze": "at", "snooze_at": value},
                headers={"hx-request": "true"},
            )
            assert response.status_code == 422 and text in response.text
        assert (await conversation(client, cast.alice, found))["status"] == "open"


class TestPreferencesPage:
    async def test_saved_and_shown_on_every_page(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.post(
            "/me/preferences",
            data={
                "csrf": await csrf(client),
                "time_zone": "Europe/Paris",
                "notify": ["new", "assigned"],
                "sound": "on",
            },
        )
        assert response.headers["location"] == "/me/preferences?saved=1"
        page = await client.get("/")
        assert 'data-notify="assigned new" data-sound="on"' in page.text
        prefs = (await client.get("/api/v1/me/preferences", headers=cast.alice.headers)).json()
        assert prefs == {"time_zone": "Europe/Paris", "notify": ["assigned", "new"], "sound": True}

    async def test_an_unknown_zone_is_refused(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.post(
            "/me/preferences", data={"csrf": await csrf(client), "time_zone": "Nowhere/Land"}
        )
        assert response.headers["location"] == "/me/preferences?error=invalid"


class TestUnreadCount:
    async def test_the_badge_carries_mentions_plus_unanswered_conversations_of_mine(
        self, client, cast
    ):
        found = await opened(client, cast.website, "u-1")
        await opened(client, cast.website, "u-2", "other@example.com")  # not hers
        await client.patch(
            f"/api/v1/conversations/{found}",
            json={"assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        await log_in(client, cast.alice)
        badge = await client.get("/partials/mentions-badge")
        assert 'data-testid="fd-unread" data-count="1"' in badge.text
        await client.post(
            f"/api/v1/conversations/{found}/messages",
            json={"text": "answered"},
            headers=cast.alice.headers,
        )
        badge = await client.get("/partials/mentions-badge")
        assert 'data-testid="fd-unread" data-count="0"' in badge.text
