"""Keep the cyclic garbage collector off the long-lived heap of a busy server.

With thousands of open sockets the heap holds millions of long-lived objects, and every
full collection walks all of them (measured: ~17% of the server's CPU at 10,000 visitor
sockets and 800 messages/s, in pauses of a few hundred ms). Every `interval` seconds we
collect what is not frozen — the young generations and what reached the old one since the
previous round, little when rounds are frequent — and freeze what survived (gc.freeze: the
collector skips it from then on). Between rounds the collector's own old-generation
collections therefore walk at most one interval's survivors (at 10 s intervals they grew to
pauses of 100+ ms under load; at 1 s they stay a few ms). Every `full_every` seconds one round
unfreezes first, so cyclic garbage that got frozen is freed within that time. Objects freed
by reference counting — nearly all — go at once.

`settle` is the first round, run once a process has loaded everything it keeps (modules, the
app and its route table, ORM mappers, translations): before it, the first periodic round
would collect that whole heap (200+ ms measured) while serving a request. It also raises the
collector's thresholds (THRESHOLDS): with the old heap frozen, an automatic collection of
the oldest generation only repeats what the next round does anyway, and a page that
allocates a few hundred thousand objects paid hundreds of young collections at the default
700, each walking whatever the request still held."""

from __future__ import annotations

import asyncio
import gc
import time

# gc.set_threshold's (young, middle, old) once the heap is settled: a young collection every
# 20,000 net container allocations instead of 700 (the dead ones are gone by then, so a
# collection walks only what a request still holds), the middle one every 10 of those, and
# the automatic old-generation ones out of the way of the periodic rounds.
THRESHOLDS = (20_000, 10, 1_000)


def settle() -> None:
    """Collect once, freeze what survived and raise the thresholds (see the module)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


async def freeze_periodically(interval: float, *, full_every: float = 600.0) -> None:
    last_full = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        if time.monotonic() - last_full >= full_every:
            last_full = time.monotonic()
            gc.unfreeze()
        gc.collect()
        gc.freeze()
