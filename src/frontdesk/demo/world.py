"""What the demo's pretend outside world has seen: every customer's phone (the messages the
customer typed on /demo/phone and the ones the demo providers took from our adapters, with
their delivery status) and the files a customer attached. Kept in memory and mirrored to
DATA_DIR/demo/phones.json, so a restarted demo still shows the phones' history."""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from frontdesk.config import Settings

log = logging.getLogger(__name__)

# Forward only, as a provider reports them: a late "delivered" never undoes "read".
STATUS_ORDER = {"failed": -1, "queued": 0, "sent": 1, "delivered": 2, "read": 3}
MAX_ENTRIES_PER_PHONE = 200
MAX_MEDIA = 200


@dataclass
class Entry:
    """One bubble: `mine` is what the customer typed; otherwise the business's reply."""

    id: str
    mine: bool
    text: str
    at: str
    status: str = "sent"
    media_id: str | None = None
    # The inbox the reply came through (a provider's record) and the provider's own id.
    inbox_id: int | None = None
    error: str | None = None


@dataclass
class Media:
    content_type: str
    data: bytes
    filename: str


@dataclass
class World:
    path: Path | None
    phones: dict[str, list[Entry]] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)

    @staticmethod
    def key(channel: str, address: str) -> str:
        return f"{channel}:{address}"

    def feed(self, channel: str, address: str) -> list[Entry]:
        return list(self.phones.get(self.key(channel, address), []))

    def add(self, channel: str, address: str, entry: Entry) -> Entry:
        phone = self.phones.setdefault(self.key(channel, address), [])
        phone.append(entry)
        del phone[:-MAX_ENTRIES_PER_PHONE]
        self.save()
        return entry

    def find(self, entry_id: str) -> tuple[str, Entry] | None:
        for key, entries in self.phones.items():
            for entry in entries:
                if entry.id == entry_id:
                    return key, entry
        return None

    def advance(self, entry_id: str, status: str, error: str | None = None) -> bool:
        """Move an entry's status forward; False when it is unknown or already further."""
        found = self.find(entry_id)
        if found is None:
            return False
        entry = found[1]
        if status != "failed" and STATUS_ORDER.get(status, 0) <= STATUS_ORDER[entry.status]:
            return False
        entry.status = status
        entry.error = error
        self.save()
        return True

    def keep_media(self, content_type: str, data: bytes, filename: str) -> str:
        media_id = "m" + secrets.token_hex(8)
        self.media[media_id] = Media(content_type, data, filename)
        while len(self.media) > MAX_MEDIA:
            self.media.pop(next(iter(self.media)))
        return media_id

    def save(self) -> None:
        if self.path is None:
            return
        data = {key: [asdict(e) for e in entries] for key, entries in self.phones.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        spare = self.path.with_suffix(".tmp")
        spare.write_text(json.dumps(data, ensure_ascii=False))
        os.replace(spare, self.path)

    @classmethod
    def load(cls, path: Path | None) -> World:
        world = cls(path)
        if path is None or not path.exists():
            return world
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
            world.phones = {key: [Entry(**e) for e in entries] for key, entries in raw.items()}
        except (ValueError, TypeError) as exc:
            log.warning("demo phones at %s not readable, starting empty: %s", path, exc)
        return world


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def world_of(app_state: Any, settings: Settings) -> World:
    """The process's world, loaded on first use from the data dir."""
    world: World | None = getattr(app_state, "demo_world", None)
    if world is None:
        world = World.load(settings.data_dir / "demo" / "phones.json")
        app_state.demo_world = world
    return world
