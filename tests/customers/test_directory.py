"""Customer search (name, any identity, any attribute value; filters on admin-defined
attributes), notes, custom attribute definitions checked on write, and merge split back."""

from __future__ import annotations

from tests.conftest import inbound_payload, post_inbound


async def inbound(client, inbox, external_id, address, name=None):  # type: ignore[no-untyped-def]
    payload = inbound_payload(external_id, address)
    if name:
        payload["from"]["name"] = name
    response = await post_inbound(client, inbox, payload)
    assert response.status_code == 202, response.text
    return response.json()


async def define(client, cast, **body):  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/customer-attributes", json=body, headers=cast.ada.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def patch(client, cast, customer_id, who="ada", **body):  # type: ignore[no-untyped-def]
    return await client.patch(
        f"/api/v1/customers/{customer_id}", json=body, headers=getattr(cast, who).headers
    )


class TestAttributes:
    async def test_only_admins_define(self, client, cast):
        response = await client.post(
            "/api/v1/customer-attributes",
            json={"key": "plan", "label": "Plan", "kind": "text"},
            headers=cast.sara.headers,
        )
        assert response.status_code == 403

    async def test_values_are_checked_by_kind(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com")
        await define(client, cast, key="plan", label="Plan", kind="list",
                     options=["Free", "Pro"])  # fmt: skip
        await define(client, cast, key="seats", label="Seats", kind="number")
        await define(client, cast, key="renews", label="Renews on", kind="date")
        ok = await patch(client, cast, layla["customer_id"],
                         attributes={"plan": "Pro", "seats": "12", "renews": "2027-01-31",
                                     "source": "fair"})  # fmt: skip
        assert ok.status_code == 200, ok.text
        assert ok.json()["attributes"] == {
            "plan": "Pro",
            "seats": 12,
            "renews": "2027-01-31",
            "source": "fair",
        }
        for bad in ({"plan": "Gold"}, {"seats": "many"}, {"renews": "31/01/2027"},
                    {"seats": True}):  # fmt: skip
            refused = await patch(client, cast, layla["customer_id"], attributes=bad)
            assert refused.status_code == 422, bad
            assert refused.json()["error"]["code"] == "invalid"

    async def test_a_list_needs_values_and_keys_are_unique(self, client, cast):
        empty = await client.post(
            "/api/v1/customer-attributes",
            json={"key": "tier", "label": "Tier", "kind": "list"},
            headers=cast.ada.headers,
        )
        assert empty.status_code == 422
        await define(client, cast, key="tier", label="Tier", kind="text")
        again = await client.post(
            "/api/v1/customer-attributes",
            json={"key": "tier", "label": "Tier", "kind": "text"},
            headers=cast.ada.headers,
        )
        assert again.status_code == 409

    async def test_notes(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com")
        saved = await patch(client, cast, layla["customer_id"], who="alice", notes=" VIP. ")
        assert saved.status_code == 200 and saved.json()["notes"] == "VIP."


class TestSearch:
    async def test_by_name_identity_and_attribute(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com", name="ليلى أحمد")
        omar = await inbound(client, cast.website, "w2", "omar@example.org", name="Omar")
        await define(client, cast, key="plan", label="Plan", kind="list", options=["Free", "Pro"])
        await patch(client, cast, omar["customer_id"], attributes={"plan": "Pro", "city": "مشهد"})

        async def ids(**params):  # type: ignore[no-untyped-def]
            found = await client.get("/api/v1/customers", params=params, headers=cast.alice.headers)
            assert found.status_code == 200, found.text
            return [c["id"] for c in found.json()["items"]]

        assert await ids(q="ليلى") == [layla["customer_id"]]
        assert await ids(q="EXAMPLE.org") == [omar["customer_id"]]
        assert await ids(q="مشهد") == [omar["customer_id"]]
        assert await ids(**{"attr.plan": "Pro"}) == [omar["customer_id"]]
        assert await ids(**{"attr.plan": "Free"}) == []
        assert await ids(q="%") == []  # a wildcard is a character, not a pattern

    async def test_visibility_as_the_api(self, client, cast):
        await inbound(client, cast.app, "a1", "secret@example.net", name="Hidden")
        found = await client.get(
            "/api/v1/customers", params={"q": "Hidden"}, headers=cast.alice.headers
        )
        assert found.json()["items"] == []
        seen = await client.get(
            "/api/v1/customers", params={"q": "Hidden"}, headers=cast.bob.headers
        )
        assert len(seen.json()["items"]) == 1

    async def test_an_unknown_attribute_filter_is_refused(self, client, cast):
        response = await client.get(
            "/api/v1/customers", params={"attr.nope": "x"}, headers=cast.ada.headers
        )
        assert response.status_code == 422


class TestSplit:
    async def test_a_merge_is_split_back(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com", name="Layla")
        other = await inbound(client, cast.website, "w2", "+44 20 7946 0958", name="L. Ahmed")
        await patch(client, cast, other["customer_id"], attributes={"vip": "yes"})
        merged = await client.post(
            f"/api/v1/customers/{layla['customer_id']}/merge",
            json={"other_id": other["customer_id"]},
            headers=cast.alice.headers,
        )
        assert merged.status_code == 200
        assert len(merged.json()["identities"]) == 2 and merged.json()["attributes"] == {
            "vip": "yes"
        }
        merges = await client.get(
            f"/api/v1/customers/{layla['customer_id']}/merges", headers=cast.alice.headers
        )
        [record] = merges.json()
        assert record["merged_id"] == other["customer_id"] and record["split_at"] is None
        split = await client.post(
            f"/api/v1/customers/{layla['customer_id']}/split",
            json={"merge_id": record["id"]},
            headers=cast.alice.headers,
        )
        assert split.status_code == 200, split.text
        assert split.json()["id"] == other["customer_id"]
        assert [i["kind"] for i in split.json()["identities"]] == ["phone"]
        assert split.json()["attributes"] == {"vip": "yes"}
        kept = await client.get(
            f"/api/v1/customers/{layla['customer_id']}", headers=cast.alice.headers
        )
        assert [i["kind"] for i in kept.json()["identities"]] == ["email"]
        assert kept.json()["attributes"] == {}
        conversation = await client.get(
            f"/api/v1/conversations/{other['conversation_id']}", headers=cast.alice.headers
        )
        assert conversation.json()["customer_id"] == other["customer_id"]
        timeline = await client.get(
            f"/api/v1/customers/{other['customer_id']}/timeline", headers=cast.alice.headers
        )
        assert len(timeline.json()["items"]) == 1
        again = await client.post(
            f"/api/v1/customers/{layla['customer_id']}/split",
            json={"merge_id": record["id"]},
            headers=cast.alice.headers,
        )
        assert again.status_code == 409

    async def test_another_customers_merge_is_not_found(self, client, cast):
        a = await inbound(client, cast.website, "w1", "a@example.com")
        b = await inbound(client, cast.website, "w2", "b@example.com")
        c = await inbound(client, cast.website, "w3", "c@example.com")
        await client.post(
            f"/api/v1/customers/{a['customer_id']}/merge",
            json={"other_id": b["customer_id"]},
            headers=cast.ada.headers,
        )
        [record] = (await client.get(f"/api/v1/customers/{a['customer_id']}/merges",
                                     headers=cast.ada.headers)).json()  # fmt: skip
        response = await client.post(
            f"/api/v1/customers/{c['customer_id']}/split",
            json={"merge_id": record["id"]},
            headers=cast.ada.headers,
        )
        assert response.status_code == 404
