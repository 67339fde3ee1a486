from __future__ import annotations

from tests.conftest import inbound_payload, post_inbound


async def inbound(client, inbox, external_id, address, text="hi"):  # type: ignore[no-untyped-def]
    response = await post_inbound(client, inbox, inbound_payload(external_id, address, text))
    assert response.status_code == 202, response.text
    return response.json()


class TestLookup:
    async def test_finds_customer_by_normalised_email(self, client, cast):
        body = await inbound(client, cast.website, "m1", "Layla@Example.COM")
        found = await client.get(
            "/api/v1/customers",
            params={"identity": " LAYLA@example.com "},
            headers=cast.ada.headers,
        )
        assert [c["id"] for c in found.json()["items"]] == [body["customer_id"]]

    async def test_finds_customer_by_phone_in_any_format(self, client, cast):
        body = await inbound(client, cast.website, "m1", "+44 20 7946 0958")
        found = await client.get(
            "/api/v1/customers", params={"identity": "+442079460958"}, headers=cast.alice.headers
        )
        assert [c["id"] for c in found.json()["items"]] == [body["customer_id"]]
        assert found.json()["items"][0]["identities"][0] == {
            "id": 1,
            "kind": "phone",
            "address": "+442079460958",
            # Provider profiles (Messenger, Instagram); none for a phone.
            "name": None,
            "picture_url": None,
        }

    async def test_an_agent_does_not_find_customers_of_other_inboxes(self, client, cast):
        await inbound(client, cast.app, "m1", "omar@example.org")
        found = await client.get(
            "/api/v1/customers", params={"identity": "omar@example.org"}, headers=cast.alice.headers
        )
        assert found.json()["items"] == []


class TestTimeline:
    async def test_interleaves_every_inbox_oldest_first(self, client, cast):
        await inbound(client, cast.website, "w1", "layla@example.com", "first on web")
        body = await inbound(client, cast.app, "a1", "layla@example.com", "then in the app")
        await inbound(client, cast.website, "w2", "layla@example.com", "back on web")
        timeline = await client.get(
            f"/api/v1/customers/{body['customer_id']}/timeline", headers=cast.sara.headers
        )
        items = timeline.json()["items"]
        assert [i["text"] for i in items] == ["first on web", "then in the app", "back on web"]
        assert {i["channel"] for i in items} == {"api"}
        assert [i["inbox_id"] for i in items] == [cast.website.id, cast.app.id, cast.website.id]
        assert all(i["direction"] == "inbound" and i["answered"] is False for i in items)

    async def test_agent_sees_only_the_inboxes_they_serve(self, client, cast):
        await inbound(client, cast.website, "w1", "layla@example.com", "web")
        body = await inbound(client, cast.app, "a1", "layla@example.com", "app")
        timeline = await client.get(
            f"/api/v1/customers/{body['customer_id']}/timeline", headers=cast.alice.headers
        )
        assert [i["text"] for i in timeline.json()["items"]] == ["web"]


class TestIdentities:
    async def test_add_and_remove(self, client, cast):
        body = await inbound(client, cast.website, "m1", "layla@example.com")
        customer = body["customer_id"]
        added = await client.post(
            f"/api/v1/customers/{customer}/identities",
            json={"address": "+1 202 555 0143"},
            headers=cast.alice.headers,
        )
        assert added.status_code == 201
        assert added.json()["kind"] == "phone" and added.json()["address"] == "+12025550143"
        # A message from that phone now lands on the same customer.
        again = await inbound(client, cast.website, "m2", "+12025550143")
        assert again["customer_id"] == customer
        removed = await client.delete(
            f"/api/v1/customers/{customer}/identities/{added.json()['id']}",
            headers=cast.alice.headers,
        )
        assert removed.status_code == 204
        profile = await client.get(f"/api/v1/customers/{customer}", headers=cast.alice.headers)
        assert [i["address"] for i in profile.json()["identities"]] == ["layla@example.com"]

    async def test_an_address_belongs_to_one_customer(self, client, cast):
        one = await inbound(client, cast.website, "m1", "layla@example.com")
        await inbound(client, cast.website, "m2", "other@example.com")
        response = await client.post(
            f"/api/v1/customers/{one['customer_id']}/identities",
            json={"address": "OTHER@example.com"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "identity_taken"

    async def test_an_address_of_another_teams_customer_is_refused_without_saying_so(
        self, client, cast
    ):
        mine = await inbound(client, cast.website, "m1", "layla@example.com")
        await inbound(client, cast.website, "m2", "seen@example.com")
        await inbound(client, cast.app, "m3", "hidden@example.org")  # Billing's: Alice cannot see

        async def add(address: str):  # type: ignore[no-untyped-def]
            return await client.post(
                f"/api/v1/customers/{mine['customer_id']}/identities",
                json={"address": address},
                headers=cast.alice.headers,
            )

        hidden, seen = await add("hidden@example.org"), await add("seen@example.com")
        assert hidden.status_code == seen.status_code == 409
        assert hidden.json() == seen.json()
        assert "another customer" not in hidden.text

    async def test_invalid_address_is_refused(self, client, cast):
        one = await inbound(client, cast.website, "m1", "layla@example.com")
        response = await client.post(
            f"/api/v1/customers/{one['customer_id']}/identities",
            json={"address": "a@b@c"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422


class TestMerge:
    async def test_moves_identities_and_conversations_and_records_an_event(
        self, client, cast, runtime
    ):
        keep = await inbound(client, cast.website, "m1", "layla@example.com", "by mail")
        other = await inbound(client, cast.website, "m2", "+12025550143", "by phone")
        response = await client.post(
            f"/api/v1/customers/{keep['customer_id']}/merge",
            json={"other_id": other["customer_id"]},
            headers=cast.alice.headers,
        )
        assert response.status_code == 200, response.text
        assert sorted(i["address"] for i in response.json()["identities"]) == [
            "+12025550143",
            "layla@example.com",
        ]
        timeline = await client.get(
            f"/api/v1/customers/{keep['customer_id']}/timeline", headers=cast.alice.headers
        )
        assert [i["text"] for i in timeline.json()["items"]] == ["by mail", "by phone"]
        # The merged record resolves to the survivor; new messages land there too.
        merged = await client.get(
            f"/api/v1/customers/{other['customer_id']}", headers=cast.alice.headers
        )
        assert merged.json()["id"] == keep["customer_id"]
        later = await inbound(client, cast.website, "m3", "+12025550143")
        assert later["customer_id"] == keep["customer_id"]
        from frontdesk.kit.events import list_after

        async with runtime.db.session() as session:
            types = [e.type for e in await list_after(session, 0, inbox_ids=None)]
        assert "customer.merged" in types

    async def test_cannot_merge_into_itself(self, client, cast):
        one = await inbound(client, cast.website, "m1", "layla@example.com")
        response = await client.post(
            f"/api/v1/customers/{one['customer_id']}/merge",
            json={"other_id": one["customer_id"]},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422

    async def test_agent_cannot_merge_a_customer_they_cannot_see(self, client, cast):
        mine = await inbound(client, cast.website, "m1", "layla@example.com")
        theirs = await inbound(client, cast.app, "m2", "omar@example.org")
        response = await client.post(
            f"/api/v1/customers/{mine['customer_id']}/merge",
            json={"other_id": theirs["customer_id"]},
            headers=cast.alice.headers,
        )
        assert response.status_code == 404


class TestRename:
    async def test_a_name_with_a_line_break_is_refused(self, client, cast):
        # A customer's name becomes the display name of the To header of every reply.
        created = await inbound(client, cast.website, "r1", "layla@example.com")
        url = f"/api/v1/customers/{created['customer_id']}"
        for name in ("Layla\r\nBcc: x@example.com", "Layla\n", "La\x00yla"):
            response = await client.patch(url, json={"name": name}, headers=cast.alice.headers)
            assert response.status_code == 422, response.text
        response = await client.patch(url, json={"name": "لیلا"}, headers=cast.alice.headers)
        assert response.status_code == 200 and response.json()["name"] == "لیلا"
