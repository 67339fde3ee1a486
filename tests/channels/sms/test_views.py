"""Twilio's webhooks: X-Twilio-Signature, exactly-once storage, MMS media, statuses,
keywords, languages, and malformed requests."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from frontdesk.conversations.models import Attachment, Message, PendingProviderUpdate
from frontdesk.customers.models import Identity, OptOut
from frontdesk.kit.blobs import BlobStore
from tests.channels.sms.conftest import (
    ACCOUNT_SID,
    FakeTwilio,
    SmsInbox,
    create_sms_inbox,
    deliver,
    fixture,
)
from tests.conftest import free_port


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def all_messages(runtime) -> list[Message]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


class TestSignature:
    async def test_a_bad_signature_is_401_and_nothing_stored(self, client, sms, runtime):
        body, headers = sms.signed(sms.hook, fixture("incoming_sms"), token="x" * 32)
        response = await client.post(sms.hook, content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_signature"
        assert await count(runtime, Message) == 0

    async def test_a_signature_for_another_url_is_refused(self, client, sms, runtime):
        # Signed for the status route, replayed on the message route.
        body, headers = sms.signed(sms.status_hook, fixture("incoming_sms"))
        response = await client.post(sms.hook, content=body, headers=headers)
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_a_changed_parameter_breaks_the_signature(self, client, sms, runtime):
        params = fixture("incoming_sms")
        body, headers = sms.signed(sms.hook, params)
        tampered = body.replace(b"Ahoy", b"Hey!")
        response = await client.post(sms.hook, content=tampered, headers=headers)
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_a_missing_signature_is_refused(self, client, sms, runtime):
        body, headers = sms.signed(sms.hook, fixture("incoming_sms"))
        del headers["X-Twilio-Signature"]
        response = await client.post(sms.hook, content=body, headers=headers)
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_the_shared_inbound_route_refuses_sms_inboxes(self, client, sms, runtime):
        body, headers = sms.signed(sms.hook, fixture("incoming_sms"))
        response = await client.post(
            f"/api/v1/inboxes/{sms.id}/inbound", content=body, headers=headers
        )
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_the_query_string_is_part_of_what_is_signed(self, client, sms, runtime):
        path = sms.hook + "?source=console"
        response = await deliver(client, sms, fixture("incoming_sms"), path=path)
        assert response.status_code == 200, response.text
        assert await count(runtime, Message) == 1


class TestStoring:
    async def test_an_sms_is_stored_on_a_phone_identity_in_e164(self, client, sms, runtime):
        response = await deliver(client, sms, fixture("incoming_sms", From="050 123 4567"))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/xml")
        assert "<Response>" in response.text
        [message] = await all_messages(runtime)
        assert message.text == "Ahoy!"
        assert message.external_id == message.provider_message_id
        assert message.provider_message_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
        async with runtime.db.session() as session:
            identity = await session.get(Identity, message.identity_id)
            assert identity is not None
            # "050 123 4567" read in the inbox's default region (AE).
            assert (identity.kind, identity.address) == ("phone", "+971501234567")

    async def test_the_same_webhook_three_times_concurrently_is_one_message(
        self, client, sms, runtime
    ):
        params = fixture("incoming_sms")
        responses = await asyncio.gather(*(deliver(client, sms, params) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        outcomes = sorted(r.headers["x-frontdesk-outcome"] for r in responses)
        assert outcomes == ["duplicate", "duplicate", "stored"]
        assert await count(runtime, Message) == 1

    async def test_the_same_number_on_another_sms_inbox_is_the_same_customer(
        self, client, sms, runtime, cast, twilio
    ):
        other = await create_sms_inbox(client, runtime, cast, twilio, default_region="US")
        await deliver(client, sms, fixture("incoming_sms", From="0501234567"))
        await deliver(
            client, other,
            fixture("incoming_sms", MessageSid="SM" + "2" * 32, From="+971 50 123 4567"),
        )  # fmt: skip
        first, second = await all_messages(runtime)
        assert first.customer_id == second.customer_id
        assert first.identity_id == second.identity_id

    async def test_arabic_and_persian_round_trip(self, client, sms, runtime, cast, twilio):
        arabic = "مرحبا، أين طلبي رقم ١٢٣؟"
        persian = "سلام، سفارش من کی می‌رسد؟"
        await deliver(client, sms, fixture("incoming_sms", Body=arabic))
        later = fixture("incoming_sms", MessageSid="SM" + "3" * 32, Body=persian)
        await deliver(client, sms, later)
        first, second = await all_messages(runtime)
        assert (first.text, second.text) == (arabic, persian)
        items = (
            await client.get(
                f"/api/v1/conversations/{first.conversation_id}/messages",
                headers=cast.ada.headers,
            )
        ).json()["items"]
        assert [m["text"] for m in items] == [arabic, persian]


class TestMedia:
    async def test_mms_media_are_fetched_with_the_accounts_credentials(
        self, client, sms, runtime, twilio
    ):
        jpeg = b"\xff\xd8\xff\xe0" + b"1" * 200
        pdf = b"%PDF-1.4\n" + b"2" * 100
        twilio.media["ME" + "1" * 32] = ("image/jpeg", jpeg)
        twilio.media["ME" + "2" * 32] = ("application/pdf", pdf)
        params = mms(twilio)
        response = await deliver(client, sms, params)
        assert response.status_code == 200, response.text
        [message] = await all_messages(runtime)
        assert message.text == "Photo of the broken part"
        async with runtime.db.session() as session:
            files = (await session.scalars(select(Attachment).order_by(Attachment.id))).all()
        assert [(f.content_type, f.filename) for f in files] == [
            ("image/jpeg", "media-0.jpg"),
            ("application/pdf", "media-1.pdf"),
        ]
        blobs = BlobStore(runtime.settings.blob_dir)
        assert [blobs.get(f.blob_key) for f in files] == [jpeg, pdf]
        assert twilio.bad_auth == 0
        assert len(twilio.media_requests) == 2

    async def test_media_twilio_no_longer_has_are_noted_not_fatal(
        self, client, sms, runtime, twilio
    ):
        twilio.media["ME" + "1" * 32] = ("image/jpeg", b"\xff\xd8\xff" + b"x" * 10)
        response = await deliver(client, sms, mms(twilio))
        assert response.status_code == 200, response.text
        [message] = await all_messages(runtime)
        assert len(message.meta["missing_files"]) == 1
        assert await count(runtime, Attachment) == 1

    async def test_a_media_url_off_the_accounts_api_is_refused(self, client, sms, runtime, twilio):
        params = mms(twilio)
        params["MediaUrl0"] = "http://127.0.0.1:9/steal"
        response = await deliver(client, sms, params)
        assert response.status_code == 422
        assert await count(runtime, Message) == 0
        assert twilio.media_requests == []

    async def test_an_unreachable_media_server_is_502_and_nothing_stored(
        self, client, runtime, cast
    ):
        dead = FakeTwilio()
        dead.address = f"127.0.0.1:{free_port()}"  # nothing listens there
        inbox = await create_sms_inbox(client, runtime, cast, dead)
        response = await deliver(client, inbox, mms(dead))
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "provider_unavailable"
        assert await count(runtime, Message) == 0


def mms(twilio) -> dict[str, str]:  # type: ignore[no-untyped-def]
    params = fixture("incoming_mms")
    for key in ("MediaUrl0", "MediaUrl1"):
        params[key] = params[key].replace("{api}", twilio.base_url)
    return params


class TestStatuses:
    async def test_a_status_before_its_message_is_kept_then_applied(
        self, client, sms, runtime, cast, twilio
    ):
        from tests.channels.sms.test_outbound import conversation_with_customer, reply
        from tests.conftest import run_jobs

        sid = "SMb7c0a2ce80504485a6f653a7110836f5"
        # Twilio calls the status callback before our create call has returned the sid.
        early = await deliver(
            client, sms, fixture("status_delivered", MessageSid=sid), path=sms.status_hook
        )
        assert early.status_code == 200, early.text
        assert early.json()["outcome"] == "pending"
        conversation_id = await conversation_with_customer(client, sms)
        twilio.next_sids.append(sid)
        message_id = await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            sent = await session.get(Message, message_id)
            assert sent is not None
            assert sent.provider_message_id == sid
            assert sent.delivery_status == "delivered"

    async def test_undelivered_lands_as_failed_with_twilios_code(
        self, client, sms, runtime, cast, twilio
    ):
        from tests.channels.sms.test_outbound import sent_reply

        message_id, sid = await sent_reply(client, sms, runtime, cast, twilio)
        response = await deliver(
            client, sms, fixture("status_undelivered", MessageSid=sid), path=sms.status_hook
        )
        assert response.json()["outcome"] == "applied"
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            assert message.delivery_status == "failed"
            assert message.delivery_error == "30003: Unreachable destination handset"

    async def test_statuses_only_move_forward(self, client, sms, runtime, cast, twilio):
        from tests.channels.sms.test_outbound import sent_reply

        message_id, sid = await sent_reply(client, sms, runtime, cast, twilio)
        for status in ("delivered", "sent", "queued"):
            await deliver(
                client, sms,
                fixture("status_delivered", MessageSid=sid, MessageStatus=status,
                        SmsStatus=status),
                path=sms.status_hook,
            )  # fmt: skip
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            assert message.delivery_status == "delivered"

    async def test_concurrent_status_callbacks_share_commits_and_land_as_one_at_a_time(
        self, client, sms, runtime, cast, twilio
    ):
        from sqlalchemy import event

        from tests.channels.sms.test_outbound import sent_reply

        message_id, sid = await sent_reply(client, sms, runtime, cast, twilio)
        unknown = "SM" + "e" * 32  # no message has it (yet): kept
        calls = [(sid, "sent"), (sid, "delivered"), (sid, "delivered"), (unknown, "delivered")]
        calls *= 4  # every callback delivered four times, as Twilio retries
        commits: list[int] = []
        engines = [engine.sync_engine for engine in runtime.db.engines]  # group commits' too

        def note(_connection: object) -> None:
            commits.append(1)

        for engine in engines:
            event.listen(engine, "commit", note)
        try:
            answers = await asyncio.gather(*(
                deliver(client, sms,
                        fixture("status_delivered", MessageSid=which, MessageStatus=status,
                                SmsStatus=status),
                        path=sms.status_hook)
                for which, status in calls
            ))  # fmt: skip
        finally:
            for engine in engines:
                event.remove(engine, "commit", note)
        assert commits  # seen: on SQLite the group commits have an engine of their own
        assert [a.json()["outcome"] for a in answers] == [
            "pending" if which == unknown else "applied" for which, _ in calls
        ]
        # A transaction per callback made 16 commits; the ingest batches share them.
        assert len(commits) <= len(calls) // 2, len(commits)
        async with runtime.db.session() as session:
            sent = await session.get(Message, message_id)
            assert sent is not None and sent.delivery_status == "delivered"
            assert len(sent.meta["statuses"]) == 12  # every notice recorded, in history
            kept = await session.scalar(
                select(func.count()).select_from(PendingProviderUpdate)
                .where(PendingProviderUpdate.provider_message_id == unknown)
            )  # fmt: skip
            assert kept == 4

    async def test_a_status_for_another_account_is_refused(self, client, sms, runtime):
        params = fixture("status_delivered", AccountSid="AC" + "9" * 32)
        response = await deliver(client, sms, params, path=sms.status_hook)
        assert response.status_code == 422

    async def test_a_status_with_a_bad_signature_is_401(self, client, sms, runtime):
        body, headers = sms.signed(sms.status_hook, fixture("status_delivered"), token="y" * 32)
        response = await client.post(sms.status_hook, content=body, headers=headers)
        assert response.status_code == 401


class TestKeywords:
    async def test_stop_is_stored_and_recorded_on_the_identity(self, client, sms, runtime):
        response = await deliver(client, sms, fixture("incoming_sms", Body=" Stop "))
        assert response.status_code == 200, response.text
        [message] = await all_messages(runtime)
        assert message.text == " Stop "  # the keyword message stays on the timeline
        async with runtime.db.session() as session:
            [row] = (await session.scalars(select(OptOut))).all()
        assert (row.identity_id, row.scope, row.opted_out) == (message.identity_id, "sms", True)
        assert (row.keyword, row.inbox_id, row.message_id) == ("Stop", sms.id, message.id)

    async def test_persian_start_after_arabic_stop_opts_back_in(self, client, sms, runtime):
        await deliver(client, sms, fixture("incoming_sms", Body="إلغاء"))
        await deliver(client, sms, fixture("incoming_sms", MessageSid="SM" + "4" * 32, Body="شروع"))
        async with runtime.db.session() as session:
            [row] = (await session.scalars(select(OptOut))).all()
        assert row.opted_out is False
        assert row.keyword == "شروع"

    async def test_a_repeated_stop_does_not_undo_a_later_start(self, client, sms, runtime):
        stop = fixture("incoming_sms", Body="STOP")
        await deliver(client, sms, stop)
        start = fixture("incoming_sms", MessageSid="SM" + "5" * 32, Body="START")
        await deliver(client, sms, start)
        again = await deliver(client, sms, stop)  # Twilio retries the first webhook
        assert again.headers["x-frontdesk-outcome"] == "duplicate"
        async with runtime.db.session() as session:
            [row] = (await session.scalars(select(OptOut))).all()
        assert row.opted_out is False

    async def test_help_is_answered_with_the_inboxs_help_text(self, client, sms, runtime, twilio):
        from tests.conftest import run_jobs

        await deliver(client, sms, fixture("incoming_sms", Body="مساعدة"))
        await run_jobs(runtime)
        inbound, answer = await all_messages(runtime)
        assert inbound.text == "مساعدة"
        assert answer.direction == "outbound" and answer.author_kind == "system"
        assert answer.text == "Frontdesk support: reply STOP to opt out."
        assert [s["Body"] for s in twilio.sent] == [answer.text]
        assert twilio.sent[0]["To"] == "+971501234567"


class TestMalformed:
    async def test_no_message_sid_is_422_and_nothing_stored(self, client, sms, runtime):
        params = fixture("incoming_sms")
        del params["MessageSid"]
        response = await deliver(client, sms, params)
        assert response.status_code == 422
        assert await count(runtime, Message) == 0

    async def test_no_sender_is_422(self, client, sms, runtime):
        params: dict[str, Any] = fixture("incoming_sms", From="")
        response = await deliver(client, sms, params)
        assert response.status_code == 422
        assert await count(runtime, Message) == 0

    async def test_a_bad_media_count_is_422(self, client, sms, runtime):
        response = await deliver(client, sms, fixture("incoming_sms", NumMedia="lots"))
        assert response.status_code == 422
        response = await deliver(client, sms, fixture("incoming_sms", NumMedia="1"))
        assert response.status_code == 422  # no MediaUrl0
        assert await count(runtime, Message) == 0

    async def test_a_body_that_is_not_a_form_is_401_never_500(self, client, sms, runtime):
        response = await client.post(
            sms.hook, content=b"\xff\xfe\x00garbage", headers={"X-Twilio-Signature": "abc"}
        )
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_unknown_inbox_is_404(self, client, sms, runtime):
        response = await deliver(client, SmsInbox(9999, sms.base_url), fixture("incoming_sms"))
        assert response.status_code == 404


class TestInboxSettings:
    async def test_webhook_url_is_absolute_and_the_token_write_only(
        self, client, sms, cast, runtime
    ):
        read = (await client.get(f"/api/v1/inboxes/{sms.id}", headers=cast.ada.headers)).json()
        assert read["webhook_url"] == runtime.settings.base_url.rstrip("/") + sms.hook
        assert read["settings"]["auth_token"] == "********"
        assert read["settings"]["account_sid"] == ACCOUNT_SID

    async def test_an_unknown_region_is_refused(self, client, runtime, cast, twilio):
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "sms", "name": "SMS", "settings": {
                "account_sid": ACCOUNT_SID, "auth_token": "t" * 32, "from_number": "+14155550100",
                "default_region": "XX", "api_base_url": twilio.base_url}},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_settings"


class TestConnectionCheck:
    async def test_an_admin_checks_the_credentials(self, client, sms, cast, runtime, twilio):
        response = await client.post(
            f"/api/v1/inboxes/{sms.id}/sms/check", headers=cast.ada.headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "ok": True,
            "account_name": "Acme support",
            "account_status": "active",
            "webhook_url": runtime.settings.base_url.rstrip("/") + sms.hook,
        }
        assert twilio.bad_auth == 0

    async def test_a_wrong_token_is_reported_with_twilios_words(
        self, client, runtime, cast, twilio
    ):
        inbox = await create_sms_inbox(client, runtime, cast, twilio, auth_token="w" * 32)
        response = await client.post(
            f"/api/v1/inboxes/{inbox.id}/sms/check", headers=cast.ada.headers
        )
        assert response.status_code == 422
        assert response.json()["error"] == {
            "code": "provider_refused",
            "message": "the provider refused: 20003: Authenticate",
        }

    async def test_agents_may_not_check(self, client, sms, cast):
        response = await client.post(
            f"/api/v1/inboxes/{sms.id}/sms/check", headers=cast.alice.headers
        )
        assert response.status_code == 403
