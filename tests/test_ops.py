from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from frontdesk.channels.webchat import tokens
from frontdesk.config import EXAMPLE_SECRET, demo_secret
from tests.conftest import free_port, inbound_payload, post_inbound


async def test_health_ready_and_metrics(client, cast):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    await post_inbound(client, cast.website, inbound_payload("m1", "layla@example.com"))
    await post_inbound(client, cast.website, inbound_payload("m1", "layla@example.com"))
    metrics = (await client.get("/metrics")).text
    assert 'frontdesk_messages_total{direction="inbound",outcome="stored"}' in metrics
    assert 'frontdesk_messages_total{direction="inbound",outcome="duplicate"}' in metrics
    assert 'frontdesk_jobs{state="available"}' in metrics
    assert "frontdesk_http_requests_total" in metrics


async def test_metrics_need_the_token_when_one_is_set(client, cast, runtime):
    runtime.settings.metrics_token = "scrape-secret-1"
    assert (await client.get("/metrics")).status_code == 401
    wrong = {"Authorization": "Bearer scrape-secret-2"}
    assert (await client.get("/metrics", headers=wrong)).status_code == 401
    assert (await client.get("/metrics", headers=cast.ada.headers)).status_code == 401
    right = {"Authorization": "Bearer scrape-secret-1"}
    response = await client.get("/metrics", headers=right)
    assert response.status_code == 200 and "frontdesk_http_requests_total" in response.text


def test_the_demo_secret_is_random_per_data_dir_and_kept(tmp_path: Path):
    first = demo_secret(tmp_path / "one")
    assert first == demo_secret(tmp_path / "one") != demo_secret(tmp_path / "two")
    assert first != EXAMPLE_SECRET and len(first) >= 32
    assert (tmp_path / "one" / "secret_key").stat().st_mode & 0o077 == 0


async def test_openapi_describes_the_v1_surface(client):
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    for path in (
        "/api/v1/inboxes",
        "/api/v1/inboxes/{inbox_id}/inbound",
        "/api/v1/customers/{customer_id}/timeline",
        "/api/v1/customers/{customer_id}/merge",
        "/api/v1/conversations/{conversation_id}/messages",
    ):
        assert path in spec["paths"], path


async def test_unknown_route_and_bad_params_get_uniform_errors(client, cast):
    missing = await client.get("/api/v1/nothing-here", headers=cast.ada.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = await client.get("/api/v1/conversations?cursor=%%%", headers=cast.ada.headers)
    assert bad.status_code == 422 and "error" in bad.json()
    bad = await client.get("/api/v1/conversations/abc", headers=cast.ada.headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"


def test_serve_refuses_the_example_secret(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "frontdesk", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "FRONTDESK_SECRET_KEY" in result.stderr


def test_demo_prints_its_lines_and_serves(tmp_path: Path):
    """The README's first command, as a newcomer runs it (minus the pip install)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "frontdesk",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(6)]
        assert lines[0] == f"URL: http://127.0.0.1:{port}/"
        assert lines[1].startswith("API token: fd_")
        assert lines[2] == "Login: admin@frontdesk.test frontdesk-admin"
        assert all(line.startswith("Login: ") for line in lines[2:])
        token = lines[1].split(": ", 1)[1]
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/customers?identity=layla@example.com",
                    headers={"Authorization": f"Bearer {token}"},
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        customer = response.json()["items"][0]
        timeline = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/customers/{customer['id']}/timeline",
            headers={"Authorization": f"Bearer {token}"},
        ).json()["items"]
        # History spanning several inboxes, with the demo reply delivered by the embedded worker.
        assert len({item["inbox_id"] for item in timeline}) == 2
        login = httpx.get(f"http://127.0.0.1:{port}/login")
        assert 'data-testid="fd-login-email"' in login.text
        # The demo signs with its data dir's own secret, not the public example.
        secret = (tmp_path / "secret_key").read_text().strip()
        assert secret != EXAMPLE_SECRET
        inboxes = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/inboxes",
            headers={"Authorization": f"Bearer {token}"},
        ).json()["items"]
        chat = next(i for i in inboxes if i["channel"] == "webchat")
        visitor = httpx.post(
            f"http://127.0.0.1:{port}/widget/api/session", json={"inbox_id": chat["id"]}
        ).json()["token"]
        assert tokens.read(secret, visitor) is not None
        assert tokens.read(EXAMPLE_SECRET, visitor) is None
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)


def test_migrate_admin_and_token_commands(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATA_DIR"] = str(tmp_path)

    def frontdesk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "frontdesk", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert frontdesk("migrate").returncode == 0
    created = frontdesk("admin", "create", "--email", "Root@Example.com")
    assert created.returncode == 0, created.stderr
    login = created.stdout.strip().split()
    assert login[:2] == ["Login:", "root@example.com"] and len(login[2]) >= 12
    token = frontdesk("token", "create", "--agent", "root@example.com")
    assert token.returncode == 0 and token.stdout.strip().startswith("fd_")
    missing = frontdesk("token", "create", "--agent", "nobody@example.com")
    assert missing.returncode == 1 and "no agent" in missing.stderr
    seeded = frontdesk("seed")
    assert seeded.returncode == 0 and "API token: fd_" in seeded.stdout
    assert seeded.stdout.count("Login: ") == 4


def test_process_logging_never_writes_a_credential_from_a_request_url(caplog):
    from frontdesk import cli

    cli._logging()
    caplog.set_level(logging.INFO)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    with httpx.Client(transport=transport) as client:
        client.get("https://api.telegram.org/bot123456:SECRET-TOKEN/getMe")
    assert "SECRET-TOKEN" not in caplog.text
