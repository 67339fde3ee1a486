"""Walks every API route: an agent asking for anything of an inbox outside their teams gets 404
(management routes: 403). A new route with an unknown path parameter fails this test until it
is added here, so no route escapes the walk."""

from __future__ import annotations

import re

from tests.conftest import b64, inbound_payload, post_inbound

# Routes that do not authenticate agents at all (they verify an inbox signature instead).
SIGNED_ROUTES = {
    ("POST", "/api/v1/inboxes/{inbox_id}/inbound"),
    ("POST", "/webhooks/telegram/{inbox_id}"),  # X-Telegram-Bot-Api-Secret-Token
    ("GET", "/webhooks/meta/{inbox_id}"),  # hub.verify_token
    ("POST", "/webhooks/meta/{inbox_id}"),  # X-Hub-Signature-256
    ("POST", "/webhooks/sms/{inbox_id}"),  # X-Twilio-Signature
    ("POST", "/webhooks/sms/{inbox_id}/status"),
    ("POST", "/webhooks/sms_gateway/{inbox_id}"),  # the inbox's configured HMAC
    ("POST", "/webhooks/sms_gateway/{inbox_id}/status"),
    ("GET", "/webhooks/whatsapp/{inbox_id}"),  # hub.verify_token
    ("POST", "/webhooks/whatsapp/{inbox_id}"),  # X-Hub-Signature-256
}
ADMIN_ONLY = re.compile(
    r"^/api/v1/(agents|teams)/|^/api/v1/inboxes/\{inbox_id\}$|^/api/v1/email/quarantine/|^/api/v1/email/suppressions/"
    r"|^/api/v1/inboxes/\{inbox_id\}/telegram/"
    r"|^/api/v1/inboxes/\{inbox_id\}/sms/"
    r"|^/api/v1/inboxes/\{inbox_id\}/check$"
    r"|^/api/v1/inboxes/\{inbox_id\}/templates"
    r"|^/api/v1/routing/(queues|policies|agents)/"
    r"|^/api/v1/sla/(calendars|policies)/"
    r"|^/api/v1/inboxes/\{inbox_id\}/(survey|bot)$"
    r"|^/api/v1/kb/articles/\{article_id\}(/translations)?$"
    r"|^/api/v1/kb/out-of-scope/"
    r"|^/api/v1/customer-attributes/"
)

# Admin-only routes whose reads are admin-only too (403 rather than 404).
ADMIN_READS = re.compile(r"quarantine|^/api/v1/sla/|/(survey|bot)$")

BODIES = {
    ("PATCH", "/api/v1/conversations/{conversation_id}"): {"status": "resolved"},
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): {"text": "leak?"},
    ("POST", "/api/v1/conversations/{conversation_id}/public-actions"): {"action": "hide"},
    ("PATCH", "/api/v1/customers/{customer_id}"): {"name": "x"},
    ("POST", "/api/v1/customers/{customer_id}/identities"): {"address": "x@example.com"},
    ("PATCH", "/api/v1/inboxes/{inbox_id}"): {"name": "x"},
    ("PATCH", "/api/v1/agents/{agent_id}"): {"name": "x"},
    ("POST", "/api/v1/agents/{agent_id}/tokens"): {"name": "x"},
    ("PATCH", "/api/v1/teams/{team_id}"): {"name": "x"},
    ("PATCH", "/api/v1/routing/queues/{queue_id}"): {"name": "x"},
    ("PATCH", "/api/v1/routing/policies/{policy_id}"): {"name": "x"},
    ("PATCH", "/api/v1/routing/agents/{agent_id}"): {"presence": "away"},
    ("PATCH", "/api/v1/kb/articles/{article_id}"): {"title": "x"},
    ("PATCH", "/api/v1/customer-attributes/{attribute_id}"): {"label": "x"},
    ("POST", "/api/v1/customers/{customer_id}/split"): {"merge_id": 1},
    ("POST", "/api/v1/kb/articles/{article_id}/translations"): {
        "language": "ar",
        "title": "x",
        "body": "x",
    },
    ("POST", "/api/v1/calls/{message_id}/recording"): {"status": "paused"},
    ("POST", "/api/v1/inboxes/{inbox_id}/cti/calls"): {"number": "+971501234567"},
    ("POST", "/api/v1/public/kb/articles/{article_id}/feedback"): {
        "language": "en",
        "helpful": True,
    },
}
# Multipart routes: sent as files, so that the walk reaches the authorization check.
FILES = {
    ("POST", "/api/v1/conversations/{conversation_id}/uploads"): {
        "file": ("a.png", b"\x89PNG", "image/png")
    },
}


async def _their_routing(client, cast, conversation_id: int) -> dict[str, object]:
    """A Billing queue and policy, and a task on the Billing team's conversation."""
    queue = await client.post(
        "/api/v1/routing/queues",
        json={"name": "Billing", "agent_expression": "teams HAS 'Billing'"},
        headers=cast.ada.headers,
    )
    policy = await client.post(
        "/api/v1/routing/policies",
        json={"name": "Billing", "targets": [{"queue_id": queue.json()["id"]}]},
        headers=cast.ada.headers,
    )
    task = await client.post(
        "/api/v1/tasks",
        json={"type": "refund", "conversation_id": conversation_id, "queue_id": queue.json()["id"]},
        headers=cast.ada.headers,
    )
    assert task.status_code == 201, task.text
    return {
        "queue_id": queue.json()["id"],
        "policy_id": policy.json()["id"],
        "task_id": task.json()["id"],
        "action": "accept",
    }


async def test_every_route_hides_other_teams_objects(client, cast, app):
    mine = await post_inbound(client, cast.website, inbound_payload("w1", "layla@example.com"))
    theirs = await post_inbound(
        client,
        cast.app,
        inbound_payload(
            "a1",
            "omar@example.org",
            attachments=[
                {"filename": "p.txt", "content_type": "text/plain", "data_base64": b64(b"x")}
            ],
        ),
    )
    assert theirs.status_code == 202
    other = theirs.json()
    profile = await client.get(
        f"/api/v1/customers/{other['customer_id']}", headers=cast.ada.headers
    )
    messages = await client.get(
        f"/api/v1/conversations/{other['conversation_id']}/messages", headers=cast.ada.headers
    )
    values = {
        "conversation_id": other["conversation_id"],
        "customer_id": other["customer_id"],
        "inbox_id": cast.app.id,
        "attachment_id": messages.json()["items"][0]["attachments"][0]["id"],
        "identity_id": profile.json()["identities"][0]["id"],
        "message_id": messages.json()["items"][0]["id"],
        "quarantine_id": 1,
        "address": "gone@example.net",
        "agent_id": cast.bob.id,
        "team_id": 2,
        "template_id": 1,
        "calendar_id": 1,
        "survey_id": 1,
    }
    # Bob is mentioned in his team's conversation: nobody else may read or mark that.
    noted = await client.post(
        f"/api/v1/conversations/{other['conversation_id']}/messages",
        json={"text": "@bob have a look", "private": True},
        headers=cast.ada.headers,
    )
    mentions = await client.get("/api/v1/me/mentions", headers=cast.bob.headers)
    assert noted.status_code == 201 and len(mentions.json()["items"]) == 1
    values["mention_id"] = mentions.json()["items"][0]["id"]
    values.update(await _their_routing(client, cast, other["conversation_id"]))
    # Bob's own API token: nobody else may revoke it; an attribute only admins change.
    bobs = await client.post("/api/v1/me/tokens", json={"name": "bob"}, headers=cast.bob.headers)
    values["token_id"] = bobs.json()["id"]
    plan = await client.post(
        "/api/v1/customer-attributes",
        json={"key": "plan", "label": "Plan", "kind": "text"},
        headers=cast.ada.headers,
    )
    values["attribute_id"] = plan.json()["id"]
    # A draft article: only admins write articles, and a draft is theirs alone to read.
    draft = await client.post(
        "/api/v1/kb/articles",
        json={"language": "en", "title": "Refunds", "body": "Soon.", "status": "draft"},
        headers=cast.ada.headers,
    )
    assert draft.status_code == 201, draft.text
    values["article_id"] = draft.json()["id"]
    # A question no article answers: only admins mark and forget them.
    marked = await client.post(
        "/api/v1/kb/out-of-scope",
        json={"language": "en", "questions": ["Do you sell cars?"]},
        headers=cast.ada.headers,
    )
    assert marked.status_code == 201, marked.text
    values["out_of_scope_id"] = marked.json()["items"][0]["id"]
    # Bob's personal saved view and macro: nobody else may see, delete or apply them.
    view = await client.post(
        "/api/v1/saved-views", json={"name": "Bob's"}, headers=cast.bob.headers
    )
    macro = await client.post(
        "/api/v1/macros", json={"name": "Bob's", "status": "resolved"}, headers=cast.bob.headers
    )
    values["view_id"], values["macro_id"] = view.json()["id"], macro.json()["id"]
    BODIES[("POST", "/api/v1/macros/{macro_id}/apply")] = {
        "conversation_id": other["conversation_id"]
    }
    BODIES[("POST", "/api/v1/tasks/{task_id}/transfer")] = {"queue_id": values["queue_id"]}
    BODIES[("POST", "/api/v1/customers/{customer_id}/merge")] = {
        "other_id": mine.json()["customer_id"]
    }
    walked = 0
    for template, operations in app.openapi()["paths"].items():
        if "{" not in template:
            continue
        params = re.findall(r"\{(\w+)\}", template)
        unknown = [p for p in params if p not in values]
        assert not unknown, f"{template}: add {unknown} to the authorization walk"
        path = template.format(**{p: values[p] for p in params})
        for method in (m.upper() for m in operations):
            if (method, template) in SIGNED_ROUTES:
                continue
            body = BODIES.get((method, template))
            response = await client.request(
                method,
                path,
                json=body if method in {"POST", "PATCH", "PUT"} and body is not None else None,
                files=FILES.get((method, template)),
                headers=cast.alice.headers,
            )
            reading_org_data = method == "GET" and template.startswith(
                ("/api/v1/agents", "/api/v1/teams")
            )
            if reading_org_data:
                assert response.status_code == 200, (method, template)
            elif ADMIN_ONLY.search(template) and (method != "GET" or ADMIN_READS.search(template)):
                assert response.status_code == 403, (method, template, response.text)
            else:
                assert response.status_code == 404, (method, template, response.text)
                assert response.json()["error"]["code"] in {"not_found"}
            walked += 1
    assert walked >= 15
    # Nothing changed for the other team.
    after = await client.get(
        f"/api/v1/conversations/{other['conversation_id']}", headers=cast.ada.headers
    )
    assert after.json()["status"] == "open"
    unread = await client.get("/api/v1/me/mentions?unread=true", headers=cast.bob.headers)
    assert len(unread.json()["items"]) == 1


async def test_lists_never_include_other_teams_objects(client, cast):
    await post_inbound(client, cast.website, inbound_payload("w1", "layla@example.com"))
    theirs = (
        await post_inbound(client, cast.app, inbound_payload("a1", "omar@example.org"))
    ).json()
    conversations = await client.get(
        f"/api/v1/conversations?customer_id={theirs['customer_id']}", headers=cast.alice.headers
    )
    assert conversations.json()["items"] == []
    customers = await client.get("/api/v1/customers", headers=cast.alice.headers)
    assert theirs["customer_id"] not in [c["id"] for c in customers.json()["items"]]
    by_inbox = await client.get(
        f"/api/v1/conversations?inbox_id={cast.app.id}", headers=cast.alice.headers
    )
    assert by_inbox.json()["items"] == []


async def test_requests_without_a_valid_token_are_refused(client, cast):
    for headers in ({}, {"Authorization": "Bearer fd_wrong"}, {"Authorization": "Basic x"}):
        response = await client.get("/api/v1/conversations", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


async def test_revoked_token_stops_working(client, cast):
    assert (await client.delete("/api/v1/me/token", headers=cast.alice.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=cast.alice.headers)).status_code == 401
