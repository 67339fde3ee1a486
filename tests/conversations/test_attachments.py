"""Agents' files on replies and notes through the REST API: upload, then reference by id;
the inbox's type and size limits; who may read them (agents, the visitor, nobody else)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from frontdesk import blobgc
from frontdesk.conversations import attachments
from frontdesk.conversations.models import Attachment
from frontdesk.db import utcnow
from frontdesk.kit import uow
from tests.conversations.test_views import new_conversation
from tests.helpers import make_chat, visitor_token
from tests.test_blobgc import GRACE, age_blobs

PNG = b"\x89PNG\r\n\x1a\n fake"


async def upload(client, person, conversation: int, name: str, data: bytes, kind: str):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation}/uploads",
        files={"file": (name, data, kind)},
        headers=person.headers,
    )


async def reply(client, person, conversation: int, **body: Any):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation}/messages", json=body, headers=person.headers
    )


async def webchat_conversation(client, cast, runtime, **settings: Any) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """A visitor who sent a file: (conversation id, the visitor's token)."""
    chat = await make_chat(runtime, cast, **settings)
    token = await visitor_token(client, chat)
    sent = await client.post(
        "/widget/api/upload",
        data={"token": token, "id": "visitor-0001"},
        files={"file": ("note.txt", b"hello", "text/plain")},
    )
    assert sent.status_code == 200, sent.text
    items = (await client.get("/api/v1/conversations", headers=cast.alice.headers)).json()
    found = [c["id"] for c in items["items"] if c["inbox_id"] == chat.id]
    return found[0], token


class TestReplyWithFiles:
    async def test_uploaded_file_goes_out_with_the_reply(self, client, cast):
        conversation = await new_conversation(client, cast)
        uploaded = await upload(client, cast.alice, conversation, "photo.png", PNG, "image/png")
        assert uploaded.status_code == 201, uploaded.text
        sent = await reply(
            client,
            cast.alice,
            conversation,
            text="Here it is",
            attachment_ids=[uploaded.json()["id"]],
        )
        assert sent.status_code == 201, sent.text
        [file] = sent.json()["attachments"]
        assert (file["filename"], file["content_type"], file["size"]) == (
            "photo.png",
            "image/png",
            len(PNG),
        )
        download = await client.get(file["url"], headers=cast.alice.headers)
        assert download.status_code == 200 and download.content == PNG
        assert download.headers["x-content-type-options"] == "nosniff"

    async def test_a_file_alone_is_a_reply(self, client, cast):
        conversation = await new_conversation(client, cast)
        uploaded = await upload(
            client, cast.alice, conversation, "a.pdf", b"%PDF-1.4", "application/pdf"
        )
        sent = await reply(client, cast.alice, conversation, attachment_ids=[uploaded.json()["id"]])
        assert sent.status_code == 201, sent.text
        assert sent.json()["text"] == "" and len(sent.json()["attachments"]) == 1

    async def test_filename_loses_bidi_overrides_controls_and_paths(self, client, cast):
        conversation = await new_conversation(client, cast)
        name = "../in\u202evoice\u2066gnp.exe"
        uploaded = await upload(client, cast.alice, conversation, name, PNG, "image/png")
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["filename"] == "_invoicegnp.exe"

    async def test_script_capable_type_is_refused(self, client, cast):
        conversation = await new_conversation(client, cast)
        for name, kind in (("x.html", "text/html"), ("x.svg", "image/svg+xml")):
            refused = await upload(client, cast.alice, conversation, name, b"<script>", kind)
            assert refused.status_code == 422
            assert refused.json()["error"]["code"] == "upload_type"

    async def test_webchat_inbox_limits_apply_to_agents_too(self, client, cast, runtime):
        conversation, _ = await webchat_conversation(client, cast, runtime, max_upload_bytes=10)
        refused = await upload(client, cast.alice, conversation, "big.txt", b"x" * 11, "text/plain")
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "attachment_too_large"

    async def test_an_upload_is_used_once(self, client, cast):
        conversation = await new_conversation(client, cast)
        file_id = (
            await upload(client, cast.alice, conversation, "a.png", PNG, "image/png")
        ).json()["id"]
        assert (
            await reply(client, cast.alice, conversation, text="1", attachment_ids=[file_id])
        ).status_code == 201
        again = await reply(client, cast.alice, conversation, text="2", attachment_ids=[file_id])
        assert again.status_code == 422 and again.json()["error"]["code"] == "invalid_upload"


class TestWhoMayRead:
    async def test_pending_upload_is_the_uploaders_alone(self, client, cast):
        conversation = await new_conversation(client, cast)
        file = (await upload(client, cast.alice, conversation, "a.png", PNG, "image/png")).json()
        assert (await client.get(file["url"], headers=cast.alice.headers)).status_code == 200
        # Even a supervisor, who sees the conversation, cannot read or use another's upload.
        assert (await client.get(file["url"], headers=cast.sara.headers)).status_code == 404
        used = await reply(client, cast.sara, conversation, text="x", attachment_ids=[file["id"]])
        assert used.status_code == 422

    async def test_upload_cannot_move_to_another_conversation(self, client, cast):
        first = await new_conversation(client, cast, "m1", "layla@example.com")
        other = await new_conversation(client, cast, "m2", "omar@example.com")
        file_id = (await upload(client, cast.alice, first, "a.png", PNG, "image/png")).json()["id"]
        moved = await reply(client, cast.alice, other, text="x", attachment_ids=[file_id])
        assert moved.status_code == 422

    async def test_agents_outside_the_inbox_get_404(self, client, cast):
        conversation = await new_conversation(client, cast)
        assert (
            await upload(client, cast.bob, conversation, "a.png", PNG, "image/png")
        ).status_code == 404
        file_id = (
            await upload(client, cast.alice, conversation, "a.png", PNG, "image/png")
        ).json()["id"]
        sent = await reply(client, cast.alice, conversation, text="x", attachment_ids=[file_id])
        url = sent.json()["attachments"][0]["url"]
        assert (await client.get(url, headers=cast.bob.headers)).status_code == 404
        assert (await client.get(url, headers=cast.sara.headers)).status_code == 200


class TestNotesWithFiles:
    async def test_note_carries_files_that_visitors_never_reach(self, client, cast, runtime):
        conversation, token = await webchat_conversation(client, cast, runtime)
        file_id = (
            await upload(client, cast.alice, conversation, "internal.png", PNG, "image/png")
        ).json()["id"]
        note = await reply(
            client,
            cast.alice,
            conversation,
            text="see this",
            private=True,
            attachment_ids=[file_id],
        )
        assert note.status_code == 201, note.text
        assert [f["filename"] for f in note.json()["attachments"]] == ["internal.png"]
        notes = await client.get(
            f"/api/v1/conversations/{conversation}/notes", headers=cast.alice.headers
        )
        assert notes.json()[0]["attachments"][0]["id"] == file_id
        widget = await client.get(f"/widget/api/attachments/{file_id}?token={token}")
        assert widget.status_code == 404


class TestVisitorSide:
    async def test_visitor_gets_the_agents_file_with_their_token_only(self, client, cast, runtime):
        conversation, token = await webchat_conversation(client, cast, runtime)
        file_id = (
            await upload(client, cast.alice, conversation, "map.png", PNG, "image/png")
        ).json()["id"]
        sent = await reply(client, cast.alice, conversation, text="map", attachment_ids=[file_id])
        assert sent.status_code == 201, sent.text
        mine = await client.get(f"/widget/api/attachments/{file_id}?token={token}")
        assert mine.status_code == 200 and mine.content == PNG
        # A safe image is served inline (the widget's preview), sandboxed, never sniffed.
        assert mine.headers["content-type"] == "image/png"
        assert "sandbox" in mine.headers["content-security-policy"]
        chat = await make_chat(runtime, cast)
        stranger = await visitor_token(client, chat)
        other = await client.get(f"/widget/api/attachments/{file_id}?token={stranger}")
        assert other.status_code == 404


class TestStaleUploads:
    async def test_uploads_left_waiting_a_day_are_dropped(self, client, cast, runtime):
        conversation = await new_conversation(client, cast)
        old = (await upload(client, cast.alice, conversation, "a.png", PNG, "image/png")).json()
        fresh = (await upload(client, cast.alice, conversation, "b.png", PNG, "image/png")).json()
        used = (await upload(client, cast.alice, conversation, "c.png", PNG, "image/png")).json()
        await reply(client, cast.alice, conversation, text="x", attachment_ids=[used["id"]])
        await age_uploads(runtime, old["id"], used["id"])
        async with runtime.db.session() as session:
            assert await attachments.drop_stale_uploads(session) == 1
            await uow.commit(session)
        assert (await client.get(old["url"], headers=cast.alice.headers)).status_code == 404
        assert (await client.get(fresh["url"], headers=cast.alice.headers)).status_code == 200
        assert (await client.get(used["url"], headers=cast.alice.headers)).status_code == 200

    async def test_a_dropped_uploads_blob_goes_at_the_first_collection_past_the_grace(
        self, client, cast, runtime
    ):
        conversation = await new_conversation(client, cast)
        stale = (await upload(client, cast.alice, conversation, "a.png", PNG, "image/png")).json()
        shared = PNG + b" shared"
        dropped = (
            await upload(client, cast.alice, conversation, "b.png", shared, "image/png")
        ).json()
        used = (await upload(client, cast.alice, conversation, "c.png", shared, "image/png")).json()
        await reply(client, cast.alice, conversation, text="x", attachment_ids=[used["id"]])
        await age_uploads(runtime, stale["id"], dropped["id"])
        async with runtime.db.session() as session:
            assert await attachments.drop_stale_uploads(session) == 2
            await uow.commit(session)
        gone, kept = runtime.blobs.key(PNG), runtime.blobs.key(shared)
        # Within the grace period since the files were written: nothing goes yet.
        assert (await blobgc.collect(runtime.db, runtime.blobs, grace=GRACE)).files == 0
        assert runtime.blobs.exists(gone)
        age_blobs(runtime.blobs)
        swept = await blobgc.collect(runtime.db, runtime.blobs, grace=GRACE)
        assert (swept.files, swept.bytes, swept.in_use) == (1, len(PNG), 1)
        assert not runtime.blobs.exists(gone)
        assert runtime.blobs.get(kept) == shared  # the reply's file, shared with the dropped one
        download = await client.get(used["url"], headers=cast.alice.headers)
        assert download.status_code == 200 and download.content == shared


async def age_uploads(runtime, *file_ids: int) -> None:  # type: ignore[no-untyped-def]
    """Make uploads look 25 hours old (past the stale-upload cut-off)."""
    async with runtime.db.session() as session:
        for file_id in file_ids:
            row = await session.get(Attachment, file_id)
            assert row is not None
            row.created_at = utcnow() - timedelta(hours=25)
        await uow.commit(session)
