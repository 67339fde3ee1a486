"""Prometheus metrics of this process (jobs by state are read from the database on scrape)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "frontdesk_http_requests_total",
    "HTTP requests by method, route and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "frontdesk_http_request_seconds",
    "HTTP request latency by route",
    ["route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MESSAGES = Counter(
    "frontdesk_messages_total",
    "Messages in and out by outcome (inbound: stored/duplicate; outbound: delivered/sent/failed)",
    ["direction", "outcome"],
    registry=REGISTRY,
)
BLOB_FILES_REMOVED = Counter(
    "frontdesk_blob_files_removed_total",
    "Blob files the collector removed (no row named them)",
    registry=REGISTRY,
)
BLOB_BYTES_REMOVED = Counter(
    "frontdesk_blob_bytes_removed_total",
    "Bytes of the blob files the collector removed",
    registry=REGISTRY,
)

# Gauges that live in the database (true for every process): each returns Prometheus text
# lines, read on every scrape of /metrics.
DB_COLLECTORS: list[Callable[[AsyncSession], Awaitable[list[str]]]] = []
