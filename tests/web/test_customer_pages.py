"""The customer directory and page in the desktop: search and filters, visibility as the
API, editing name, attributes (checked by kind) and notes, identities, merge and split, the
panel's attribute labels, and Settings -> Customer attributes."""

from __future__ import annotations

import re

from frontdesk.kit.i18n import catalogue
from tests.conftest import inbound_payload, post_inbound
from tests.web.test_views import csrf_of, log_in


async def inbound(client, inbox, external_id, address, name=None):  # type: ignore[no-untyped-def]
    payload = inbound_payload(external_id, address)
    if name:
        payload["from"]["name"] = name
    response = await post_inbound(client, inbox, payload)
    assert response.status_code == 202, response.text
    return response.json()


async def define_plan(client, cast):  # type: ignore[no-untyped-def]
    await log_in(client, cast.ada)
    html = (await client.get("/settings/customer-attributes")).text
    response = await client.post(
        "/settings/customer-attributes",
        data={"csrf": csrf_of(html), "label": "Plan", "key": "plan", "kind": "list",
              "options": "Free\nPro\n"},
    )  # fmt: skip
    assert response.status_code == 303, response.text


def rows(html: str) -> int:
    return html.count('data-testid="fd-customer-row"')


class TestDirectory:
    async def test_search_and_filter_keep_visibility(self, client, cast):
        await inbound(client, cast.website, "w1", "layla@example.com", name="Layla")
        omar = await inbound(client, cast.website, "w2", "omar@example.org", name="Omar")
        await inbound(client, cast.app, "a1", "hidden@example.net", name="Hidden")
        await define_plan(client, cast)
        await client.patch(
            f"/api/v1/customers/{omar['customer_id']}",
            json={"attributes": {"plan": "Pro"}},
            headers=cast.ada.headers,
        )
        await log_in(client, cast.alice)
        everyone = (await client.get("/customers")).text
        assert rows(everyone) == 2 and "Hidden" not in everyone
        assert rows((await client.get("/customers?q=example.org")).text) == 1
        filtered = (await client.get("/customers", params={"attr.plan": "Pro"})).text
        assert rows(filtered) == 1 and "Omar" in filtered
        assert rows((await client.get("/customers?q=Hidden")).text) == 0

    async def test_in_persian(self, client, cast):
        await inbound(client, cast.website, "w1", "layla@example.com", name="Layla")
        await log_in(client, cast.alice)
        csrf = csrf_of((await client.get("/")).text)
        await client.post("/me/language", data={"language": "fa", "csrf": csrf})
        html = (await client.get("/customers")).text
        assert catalogue("fa")["Search by name, address or attribute"] in html
        assert "#\u06f1" in html  # the customer's number in Persian digits


class TestCustomerPage:
    async def test_edit_name_attributes_and_notes(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com", name="Layla")
        await define_plan(client, cast)
        await log_in(client, cast.alice)
        path = f"/customers/{layla['customer_id']}"
        csrf = csrf_of((await client.get(path)).text)
        bad = await client.post(path, data={"csrf": csrf, "name": "Layla A.", "a.plan": "Gold",
                                            "notes": ""})  # fmt: skip
        assert bad.status_code == 422 and "Some values are not valid" in bad.text
        ok = await client.post(path, data={"csrf": csrf, "name": "Layla A.", "a.plan": "Pro",
                                           "notes": "Prefers Arabic.", "new_key": "city",
                                           "new_value": "Dubai"})  # fmt: skip
        assert ok.status_code == 303
        api = (await client.get(f"/api/v1{path}", headers=cast.alice.headers)).json()
        assert (api["name"], api["notes"]) == ("Layla A.", "Prefers Arabic.")
        assert api["attributes"] == {"plan": "Pro", "city": "Dubai"}
        html = (await client.get(path)).text
        assert "<dt>Plan</dt>" in html  # the admin's label, not the key

    async def test_identities_added_and_removed(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com")
        await log_in(client, cast.alice)
        path = f"/customers/{layla['customer_id']}"
        csrf = csrf_of((await client.get(path)).text)
        added = await client.post(f"{path}/identities",
                                  data={"csrf": csrf, "address": "+971 50 123 4567"})  # fmt: skip
        assert added.status_code == 303
        api = (await client.get(f"/api/v1{path}", headers=cast.alice.headers)).json()
        phone = next(i for i in api["identities"] if i["kind"] == "phone")
        removed = await client.post(f"{path}/identities/{phone['id']}/remove",
                                    data={"csrf": csrf})  # fmt: skip
        assert removed.status_code == 303
        api = (await client.get(f"/api/v1{path}", headers=cast.alice.headers)).json()
        assert [i["kind"] for i in api["identities"]] == ["email"]

    async def test_merge_and_split_back(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com", name="Layla")
        other = await inbound(client, cast.website, "w2", "layla.a@example.net", name="L.")
        await log_in(client, cast.alice)
        path = f"/customers/{layla['customer_id']}"
        csrf = csrf_of((await client.get(path)).text)
        merged = await client.post(f"{path}/merge",
                                   data={"csrf": csrf, "other": "layla.a@example.net"})  # fmt: skip
        assert merged.status_code == 303
        html = (await client.get(path)).text
        merge_id = re.search(r'name="merge_id" value="(\d+)"', html)
        assert merge_id and 'data-testid="fd-merge-split"' in html
        split = await client.post(f"{path}/split",
                                  data={"csrf": csrf, "merge_id": merge_id.group(1)})  # fmt: skip
        assert split.status_code == 303
        assert split.headers["location"].startswith(f"/customers/{other['customer_id']}?")
        html = (await client.get(path)).text
        assert "layla.a@example.net" not in html.split('data-testid="fd-timeline"')[0]

    async def test_another_teams_customer_is_not_found(self, client, cast):
        hidden = await inbound(client, cast.app, "a1", "hidden@example.net")
        await log_in(client, cast.alice)
        csrf = csrf_of((await client.get("/")).text)
        path = f"/customers/{hidden['customer_id']}"
        assert (await client.get(path)).status_code == 404
        assert (await client.post(path, data={"csrf": csrf, "name": "x"})).status_code == 404
        assert (await client.get(f"{path}/attributes")).status_code == 404

    async def test_a_form_without_its_token_is_refused(self, client, cast):
        layla = await inbound(client, cast.website, "w1", "layla@example.com", name="Layla")
        await log_in(client, cast.alice)
        response = await client.post(f"/customers/{layla['customer_id']}",
                                     data={"csrf": "nope", "name": "Changed"})  # fmt: skip
        assert response.status_code == 401


class TestAttributeSettings:
    async def test_create_relabel_and_delete(self, client, cast):
        await define_plan(client, cast)
        html = (await client.get("/settings/customer-attributes")).text
        assert 'data-testid="fd-attribute"' in html
        [definition] = (await client.get("/api/v1/customer-attributes",
                                         headers=cast.ada.headers)).json()  # fmt: skip
        csrf = csrf_of(html)
        relabel = await client.post(
            f"/settings/customer-attributes/{definition['id']}",
            data={
                "csrf": csrf,
                "action": "save",
                "label": "Subscription",
                "options": "Free\nPro\nTeam",
            },
        )
        assert relabel.status_code == 303
        [definition] = (await client.get("/api/v1/customer-attributes",
                                         headers=cast.ada.headers)).json()  # fmt: skip
        assert definition["label"] == "Subscription" and definition["options"][-1] == "Team"
        bad_key = await client.post(
            "/settings/customer-attributes",
            data={"csrf": csrf, "label": "X", "key": "Bad Key", "kind": "text"},
        )
        assert bad_key.status_code == 422
        deleted = await client.post(f"/settings/customer-attributes/{definition['id']}",
                                    data={"csrf": csrf, "action": "delete"})  # fmt: skip
        assert deleted.status_code == 303
        assert (await client.get("/api/v1/customer-attributes",
                                 headers=cast.ada.headers)).json() == []  # fmt: skip
