"""What one process holds: settings, database, bus, blob store and (optionally) a job runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextvars import Token
from dataclasses import dataclass, field

import httpx

from frontdesk.analytics.follower import follow
from frontdesk.config import Settings
from frontdesk.conversations.ingest import Ingestor
from frontdesk.db import Database
from frontdesk.inboxes.cache import InboxCache
from frontdesk.inboxes.port import Runner, channel_plugins
from frontdesk.kit import http
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.bus import MemoryBus, make_bus
from frontdesk.kit.gcfreeze import freeze_periodically
from frontdesk.kit.jobs import JobRunner, listen_for_jobs
from frontdesk.kit.sqlite import checkpoint_periodically

log = logging.getLogger(__name__)

# How often a process serving an SQLite database checkpoints its WAL (kit/sqlite.py).
SQLITE_CHECKPOINT_SECONDS = 0.5


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: MemoryBus
    blobs: BlobStore
    runner: JobRunner | None = None
    ingestor: Ingestor = field(init=False)
    inboxes: InboxCache = field(init=False)
    # What the channels run in this process (listeners, pollers), from their plugins.
    services: list[Runner] = field(default_factory=list)
    # The process's pooled HTTP client for providers and webhooks (kit/http.py), from start
    # to stop; the job runner and the channels' runners started here use it.
    http_client: httpx.AsyncClient | None = None
    _http_token: Token[httpx.AsyncClient | None] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, with_runner: bool) -> Runtime:
        if not channel_plugins():
            raise RuntimeError("no channel is loaded: import frontdesk.handlers first")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        bus = make_bus(settings.redis_url, settings.bus_prefix)
        db.bus = bus
        runtime = cls(settings, db, bus, BlobStore(settings.blob_dir))
        runtime.inboxes = db.inboxes = InboxCache(db)
        runtime.ingestor = Ingestor(db, runtime.blobs, writers=settings.ingest_writers)
        if with_runner:
            runtime.runner = JobRunner(db, settings)
            db.job_listeners.append(runtime.runner.wake)
        for plugin in channel_plugins():
            for make_runner in plugin.runners:
                service = make_runner(runtime)
                if service is not None:
                    runtime.services.append(service)
        return runtime

    async def start(self) -> None:
        await self.bus.start()
        # Before any task starts: tasks copy the context (and so the installed client).
        self.http_client = http.open_pool(self.settings.webhook_timeout_seconds)
        self._http_token = http.install(self.http_client)
        if self.settings.gc_freeze_seconds > 0:
            self._tasks.append(
                asyncio.create_task(
                    freeze_periodically(self.settings.gc_freeze_seconds), name="gc-freeze"
                )
            )
        if self.settings.is_sqlite:
            self.db.sqlite.background_checkpoints = True
            await self.db.dispose()  # pooled connections reopen with the setting
            self._tasks.append(
                asyncio.create_task(
                    checkpoint_periodically(self.db.url, SQLITE_CHECKPOINT_SECONDS),
                    name="sqlite-checkpoint",
                )
            )
        if self.runner is not None:
            self._tasks.append(asyncio.create_task(self.runner.run(), name="job-runner"))
            if self.db.is_postgres:  # jobs committed by other processes wake this runner
                self._tasks.append(
                    asyncio.create_task(
                        listen_for_jobs(self.db, self.runner.wake), name="job-listener"
                    )
                )
            if self.settings.analytics_poll_seconds > 0:
                self._tasks.append(
                    asyncio.create_task(
                        follow(
                            self.db,
                            self.settings.analytics_poll_seconds,
                            self.settings.job_background_share,
                        ),
                        name="analytics-follower",
                    )
                )
        for service in self.services:
            await service.start()

    async def stop(self) -> None:
        for service in reversed(self.services):
            with contextlib.suppress(Exception):
                await service.stop()
        if self.runner is not None:
            await self.runner.stop()
        await self.ingestor.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.stop()
        await self._close_http()
        await self.db.dispose()

    async def _close_http(self) -> None:
        if self._http_token is not None:
            http.uninstall(self._http_token)
            self._http_token = None
        if self.http_client is not None:
            await self.http_client.aclose()  # a task still holding it falls back to its own client
            self.http_client = None
