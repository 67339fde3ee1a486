"""Whether this process is serving someone now, and the pace of background work meanwhile.

Served: HTTP requests in flight and senders waiting on a group commit (webhooks, SMTP, chat,
voice), and for a moment after the last of them (`LINGER`): 32 clients at once all get their
answers from one group commit and come straight back, and the moment between is no lull.

Background work in the same process (SQLite's embedded `frontdesk serve`: the job runner's
background kinds, the analytics follower) gives way to them: while the process is busy, a
`Pace` lets the next piece start only once the last one has had its share of the time since
it started (Settings.job_background_share), so the acknowledgements' tail is not the
background's and the background is never starved. A process serving nobody (a worker) runs
it flat out."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

# Seconds after the last request or sender during which the process still counts as busy.
LINGER = 0.2

_serving = 0
_last = float("-inf")


@contextlib.contextmanager
def serving() -> Iterator[None]:
    """Count the enclosed work (a request, a sender waiting for its commit) as in flight."""
    global _serving, _last
    _serving += 1
    try:
        yield
    finally:
        _serving -= 1
        _last = time.monotonic()


def busy() -> bool:
    """Whether anything counted by `serving` is in flight, or was a moment ago."""
    return _serving > 0 or time.monotonic() - _last < LINGER


class Pace:
    """The turns of one kind of background work while the process is busy: each piece of
    work that took t seconds is followed by t * (1 - share) / share seconds for others."""

    def __init__(self, share: float) -> None:
        self.share = share
        self._next = 0.0

    def wait(self) -> float:
        """Seconds until the next piece may start (0: now)."""
        if not busy():
            return 0.0
        return max(self._next - time.monotonic(), 0.0)

    def spent(self, started: float) -> None:
        """A piece that started at `started` (time.monotonic()) has just ended."""
        ended = time.monotonic()
        self._next = ended + (ended - started) * (1.0 - self.share) / self.share
