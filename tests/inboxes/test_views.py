from __future__ import annotations

from frontdesk import channels


class TestListChannels:
    async def test_lists_installed_channels_with_capabilities_and_settings(self, client, cast):
        response = await client.get("/api/v1/channels", headers=cast.alice.headers)
        assert response.status_code == 200, response.text
        listed = {item["name"]: item for item in response.json()}
        assert list(listed) == list(channels.INSTALLED)
        api = listed["api"]
        assert api["capabilities"] == {
            "media": True,
            "templates": False,
            "reply_window": None,
            "read_receipts": False,
            "edits": False,
            "sms_segments": False,
            "phone_numbers": False,
            "choices": 0,
        }
        assert "webhook_url" in api["settings_schema"]["properties"]
        assert "imap" in listed["email"]["settings_schema"]["properties"]
        assert listed["webchat"]["capabilities"]["read_receipts"] is True
        assert listed["whatsapp"]["capabilities"]["reply_window"] == 24 * 3600
        assert listed["sms"]["capabilities"]["sms_segments"] is True
        assert listed["whatsapp"]["capabilities"]["choices"] == 10
        assert listed["telegram"]["capabilities"]["choices"] > 10

    async def test_needs_a_token(self, client):
        response = await client.get("/api/v1/channels")
        assert response.status_code == 401
