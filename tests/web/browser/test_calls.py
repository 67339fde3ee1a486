"""The Proof of issue 15 §4 and §5 in real browsers: a visitor calls from the widget, the agent
answers on the desk, media flows browser to browser (no media server), the agent shares the
screen, the call is recorded by the agent's page in chunks, and a visitor who vanishes
mid-call leaves the recording up to the cut. Two Chromium pages with fake camera, microphone
and screen (--use-fake-device-for-media-stream, --use-fake-ui-for-media-stream)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select

from frontdesk.channels.webchat.models import CallRecordingChunk
from frontdesk.conversations.models import Attachment, Message
from frontdesk.runtime import Runtime
from tests.helpers import Chat, make_chat
from tests.web.browser.conftest import ARGS, CHROMIUM, agent_page, customer_page, widget_say

MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--enable-usermedia-screen-capturing",
    "--autoplay-policy=no-user-gesture-required",
]
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"


@pytest.fixture
async def media_browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, *MEDIA_ARGS]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def recorded_chat(runtime: Runtime, cast: Any) -> Chat:
    return await make_chat(runtime, cast, record_calls=True)


async def open_conversation(agent: Page, customer: Page, text: str) -> None:
    await widget_say(customer, text)
    row = agent.get_by_test_id("fd-inbox-list").get_by_text(text)
    await row.wait_for(timeout=10_000)
    await row.click()
    await agent.wait_for_url("**/conversations/*")
    await agent.wait_for_function(
        "() => window.FrontdeskDeskCall && window.FrontdeskDesk && FrontdeskDesk.connected()"
    )
    await asyncio.sleep(0.3)  # the server subscribes the socket just after accepting it


async def call_message(runtime: Runtime) -> Message:
    async with runtime.db.session() as session:
        found = await session.scalar(select(Message).where(Message.kind == "call"))
        await session.commit()
    assert found is not None
    return found


async def start_video_call(agent: Page, customer: Page) -> None:
    await customer.get_by_test_id("fd-widget-call-video").click()
    # Both sides were told before anything is recorded.
    await customer.get_by_test_id("fd-widget-call-notice").wait_for(state="visible")
    await agent.get_by_test_id("fd-call-accept").wait_for(state="visible", timeout=10_000)
    assert await agent.get_by_test_id("fd-call-panel-notice").is_visible()
    await agent.get_by_test_id("fd-call-accept").click()
    await customer.wait_for_function(
        "() => FrontdeskWidgetCall.state() && FrontdeskWidgetCall.state().connected",
        timeout=20_000,
    )
    await agent.wait_for_function(
        "() => FrontdeskDeskCall.state() && FrontdeskDeskCall.state().connected", timeout=20_000
    )


async def receives_media(page: Page, api: str, video_testid: str) -> None:
    """inbound-rtp bytes grow and the remote <video> shows frames."""
    await page.wait_for_function(
        f"async () => (await {api}.received()) > 20000", polling=500, timeout=20_000
    )
    await page.wait_for_function(
        f"() => document.querySelector('[data-testid={video_testid}]').videoWidth > 0",
        timeout=20_000,
    )


class TestVideoCall:
    async def test_video_call_screen_share_and_recording_kept_when_the_visitor_vanishes(
        self, media_browser, live_server, cast, recorded_chat, runtime
    ):
        base = f"http://{live_server}"
        agent = await agent_page(media_browser, base, cast.alice)
        customer = await customer_page(media_browser, base)
        await open_conversation(agent, customer, "Can you see the damage on video?")
        await start_video_call(agent, customer)
        # Both sides receive media, browser to browser.
        await receives_media(customer, "FrontdeskWidgetCall", "fd-widget-remote-video")
        await receives_media(agent, "FrontdeskDeskCall", "fd-call-remote-video")
        message = await call_message(runtime)
        assert message.meta["call"]["status"] == "answered"
        assert message.meta["call"]["agent_id"] == cast.alice.id

        # The agent shares the screen: the visitor's remote video becomes the 16:9 screen
        # (the fake camera is 4:3) and the widget says so.
        camera_ratio = await customer.evaluate(
            "() => { const v = document.querySelector('[data-testid=fd-widget-remote-video]');"
            " return v.videoWidth / v.videoHeight; }"
        )
        assert camera_ratio < 1.5
        await agent.get_by_test_id("fd-call-share").click()
        await customer.get_by_test_id("fd-widget-call-sharing").wait_for(state="visible")
        await customer.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=fd-widget-remote-video]');"
            " return v.videoWidth / v.videoHeight > 1.7; }",
            timeout=20_000,
        )

        # Recording chunks reach the server while the call goes on.
        await agent.wait_for_function(
            "() => FrontdeskDeskCall.uploads().length && FrontdeskDeskCall.uploads()[0].sent >= 3",
            timeout=20_000,
        )
        # The visitor's page is gone mid-call: the agent is told why, and the recording up
        # to the cut is assembled and kept.
        await customer.context.close()
        panel = agent.get_by_test_id("fd-call-panel")
        await agent.wait_for_function(
            "() => document.querySelector('[data-testid=fd-call-panel]')"
            ".getAttribute('data-reason') === 'peer_offline'",
            timeout=20_000,
        )
        assert "offline" in (
            await agent.get_by_test_id("fd-call-panel-status").text_content() or ""
        )
        await agent.wait_for_function("() => FrontdeskDeskCall.uploads()[0].done", timeout=20_000)
        assert await panel.get_attribute("data-recording") == "stored"

        message = await call_message(runtime)
        call = message.meta["call"]
        assert call["status"] == "ended"
        assert call["end_reason"] == "peer_offline"
        assert call["duration_seconds"] >= 1
        async with runtime.db.session() as session:
            recording = await session.get(Attachment, call["recording"])
            left = (await session.scalars(select(CallRecordingChunk))).all()
            await session.commit()
        assert recording is not None and recording.message_id == message.id
        assert recording.content_type == "video/webm"
        assert left == []  # assembled: the chunks are gone
        data = runtime.blobs.get(recording.blob_key)
        assert data.startswith(WEBM_MAGIC) and len(data) == recording.size > 10_000

        # Played back in the timeline, and downloadable through the visibility check.
        video = agent.get_by_test_id("fd-call-recording")
        await video.wait_for(timeout=10_000)
        duration = await video.evaluate(
            """v => new Promise((resolve, reject) => {
                 const done = () => isFinite(v.duration) && v.duration > 0 && resolve(v.duration);
                 v.addEventListener('durationchange', done);
                 v.addEventListener('error', () => reject(new Error('cannot play')));
                 v.addEventListener('loadedmetadata', () => {
                   if (!isFinite(v.duration)) v.currentTime = 1e9; else done();
                 });
                 v.preload = 'auto'; v.load();
               })"""
        )
        assert duration > 1
        response = await agent.request.get(f"{base}/desk/attachments/{recording.id}")
        assert response.status == 200
        assert response.headers["content-type"] == "video/webm"
        assert (await response.body()) == data


class TestAudioCall:
    async def test_an_audio_call_hung_up_by_the_agent_is_recorded_and_plays(
        self, media_browser, live_server, cast, recorded_chat, runtime
    ):
        base = f"http://{live_server}"
        agent = await agent_page(media_browser, base, cast.alice)
        customer = await customer_page(media_browser, base)
        await open_conversation(agent, customer, "Quick question by phone?")
        await customer.get_by_test_id("fd-widget-call-audio").click()
        await agent.get_by_test_id("fd-call-accept").click(timeout=10_000)
        await customer.wait_for_function(
            "() => FrontdeskWidgetCall.state() && FrontdeskWidgetCall.state().connected",
            timeout=20_000,
        )
        await customer.wait_for_function(
            "async () => (await FrontdeskWidgetCall.received()) > 2000", polling=500,
            timeout=20_000,
        )  # fmt: skip
        await agent.wait_for_function(
            "() => FrontdeskDeskCall.uploads().length && FrontdeskDeskCall.uploads()[0].sent >= 2",
            timeout=20_000,
        )
        await agent.get_by_test_id("fd-call-hangup").click()
        # The visitor is told, in words, and the call line in the widget says it ended.
        status = customer.get_by_test_id("fd-widget-call-status")
        await customer.wait_for_function(
            "() => document.querySelector('[data-testid=fd-widget-call]')"
            ".getAttribute('data-reason') === 'hangup'"
        )
        assert await status.text_content() == "The call has ended."
        await agent.wait_for_function("() => FrontdeskDeskCall.uploads()[0].done", timeout=20_000)
        call = (await call_message(runtime)).meta["call"]
        assert call["status"] == "ended" and call["media"] == "audio"
        async with runtime.db.session() as session:
            recording = await session.get(Attachment, call["recording"])
            await session.commit()
        assert recording is not None and recording.content_type == "audio/webm"
        player = agent.get_by_test_id("fd-call-recording")
        await player.wait_for(timeout=10_000)
        assert await player.evaluate("a => a.tagName") == "AUDIO"
        duration = await player.evaluate(
            """a => new Promise((resolve, reject) => {
                 const done = () => isFinite(a.duration) && a.duration > 0 && resolve(a.duration);
                 a.addEventListener('durationchange', done);
                 a.addEventListener('error', () => reject(new Error('cannot play')));
                 a.addEventListener('loadedmetadata', () => {
                   if (!isFinite(a.duration)) a.currentTime = 1e9; else done();
                 });
                 a.preload = 'auto'; a.load();
               })"""
        )
        assert duration > 0.5


class TestCallFailures:
    async def test_no_agent_online_and_a_refused_camera_are_told_on_both_sides(
        self, media_browser, live_server, cast, recorded_chat, runtime
    ):
        base = f"http://{live_server}"
        # Nobody is online yet: the widget says so, in words.
        lonely = await customer_page(media_browser, base)
        await widget_say(lonely, "Anyone there?")
        await lonely.get_by_test_id("fd-widget-call-video").click()
        await lonely.wait_for_function(
            "() => document.querySelector('[data-testid=fd-widget-call]')"
            ".getAttribute('data-reason') === 'no_agent_online'"
        )
        assert "No agent is online" in (
            await lonely.get_by_test_id("fd-widget-call-status").text_content() or ""
        )
        await lonely.context.close()
        # A visitor whose browser refuses the camera (no fake permission prompt here).
        agent = await agent_page(media_browser, base, cast.alice)
        async with async_playwright() as playwright:
            strict = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=[*ARGS, "--use-fake-device-for-media-stream"]
            )
            customer = await customer_page(strict, base)
            await open_conversation(agent, customer, "Calling you now")
            await customer.get_by_test_id("fd-widget-call-video").click()
            reason = "() => document.querySelector('[data-testid=fd-widget-call]')" \
                ".getAttribute('data-reason') === 'permission_denied'"  # fmt: skip
            await customer.wait_for_function(reason, timeout=15_000)
            await agent.wait_for_function(reason.replace("fd-widget-call", "fd-call-panel"),
                                          timeout=15_000)  # fmt: skip
            assert "permission denied" in (
                await agent.get_by_test_id("fd-call-panel-status").text_content() or ""
            )
            await strict.close()
        call = (await call_message(runtime)).meta["call"]
        assert call["status"] == "missed" and call["end_reason"] == "permission_denied"


class TestAgentCalls:
    async def test_the_agent_calls_the_visitor_who_accepts_in_the_widget(
        self, media_browser, live_server, cast, recorded_chat, runtime
    ):
        base = f"http://{live_server}"
        agent = await agent_page(media_browser, base, cast.alice)
        customer = await customer_page(media_browser, base)
        await open_conversation(agent, customer, "Could you call me back on video?")
        await agent.get_by_test_id("fd-call-start-video").click()
        await customer.get_by_test_id("fd-widget-call-accept").wait_for(timeout=10_000)
        status = await customer.get_by_test_id("fd-widget-call-status").text_content()
        assert status == "Alice is calling you (video)."
        # The visitor is told before anything is recorded.
        assert await customer.get_by_test_id("fd-widget-call-notice").is_visible()
        await customer.get_by_test_id("fd-widget-call-accept").click()
        await customer.wait_for_function(
            "() => FrontdeskWidgetCall.state() && FrontdeskWidgetCall.state().connected",
            timeout=20_000,
        )
        await receives_media(customer, "FrontdeskWidgetCall", "fd-widget-remote-video")
        await receives_media(agent, "FrontdeskDeskCall", "fd-call-remote-video")
        message = await call_message(runtime)
        assert message.direction == "outbound"
        assert message.meta["call"]["status"] == "answered"
        assert message.meta["call"]["agent_id"] == cast.alice.id
        await customer.get_by_test_id("fd-widget-hangup").click()
        await agent.wait_for_function(
            "() => document.querySelector('[data-testid=fd-call-panel]')"
            ".getAttribute('data-reason') === 'hangup'",
            timeout=10_000,
        )
        assert (await call_message(runtime)).meta["call"]["status"] == "ended"
