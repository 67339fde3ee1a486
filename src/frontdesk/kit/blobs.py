"""Content-addressed blob store on a local directory (object storage later, same interface).

Durable means the bytes and the directory entry naming them are on disk: `put` / `put_many`
return only after the file and its directory were fsynced, so a row committed afterwards
never points at a blob a power cut could take away.

Collected means a file goes only when no row names it and nobody put it for a grace period
(`sweep`). A file's mtime is the time of its latest `put` (storing bytes that are already
there refreshes it), and a blob is put before the transaction naming it commits: so a file
untouched for longer than any transaction lasts is never the blob of one still in flight."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

# fsyncs issued together share journal commits (ext4/xfs): 100 blobs cost ~0.25 ms each
# instead of ~0.7 ms one after the other (measured on ext4, virtio disk).
SYNC_THREADS = 16
# Keys asked about per round trip of a sweep; SQLite's write lock is held for one round.
SWEEP_CHUNK = 500
# A blob the sweep moved aside while it checks nobody put it again (see `discard`).
ASIDE = ".gc"
# mkstemp's prefix: a file still named so was never renamed into place (a crash mid-put).
TEMP_PREFIX = "tmp"
HEX = frozenset("0123456789abcdef")

T = TypeVar("T")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._pool: ThreadPoolExecutor | None = None

    def _path(self, key: str) -> Path:
        if not _is_key(key):
            raise ValueError("invalid blob key")
        return self.root / key[:2] / key[2:4] / key

    @staticmethod
    def key(data: bytes) -> str:
        """The key `put` stores these bytes under (their SHA-256)."""
        return hashlib.sha256(data).hexdigest()

    def put(self, data: bytes) -> str:
        """Store bytes durably and return their SHA-256; storing twice is harmless."""
        [key] = self.put_many([data])
        return key

    def put_many(self, datas: Sequence[bytes]) -> list[str]:
        """`put` for a batch, in order: the files are written, then fsynced together, then
        renamed into place and their directories fsynced together."""
        keys = [self.key(data) for data in datas]
        new: dict[str, bytes] = {}
        dirs: set[Path] = set()
        for key, data in zip(keys, datas, strict=True):
            path = self._path(key)
            if key in new:
                continue
            if _touch(path):
                # Stored already. The fresh mtime keeps the sweep off it while the row that
                # will name it commits; another writer may have renamed it into place but not
                # yet fsynced the directory.
                dirs.add(path.parent)
            else:
                new[key] = data
        staged: list[tuple[int, str, Path]] = []
        try:
            for key, data in new.items():
                path = self._path(key)
                dirs.update(_make_dirs(path.parent))
                fd, tmp = tempfile.mkstemp(dir=path.parent)
                staged.append((fd, tmp, path))
                _write_all(fd, data)
            self._each(os.fsync, [fd for fd, _, _ in staged])
        except BaseException:
            for fd, tmp, _ in staged:
                os.close(fd)
                os.unlink(tmp)
            raise
        for fd, tmp, path in staged:
            os.close(fd)
            # Renamed only once its bytes are on disk: an existing name is a complete blob.
            os.replace(tmp, path)
            dirs.add(path.parent)
        self._each(_fsync_dir, sorted(dirs))
        return keys

    async def put_many_async(self, datas: Sequence[bytes]) -> list[str]:
        """`put_many` off the event loop: the fsyncs wait for the disk, the loop need not."""
        if not datas:
            return []
        return await asyncio.to_thread(self.put_many, datas)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def discard(self, key: str, *, before: float) -> int | None:
        """Remove a blob no row names unless it was put at or after `before` (a time.time()):
        the bytes freed, or None when it stays (put again, or already gone)."""
        path = self._path(key)
        aside = path.with_name(key + ASIDE)
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return None
        # From the rename on, a `put` of these bytes finds no file and writes a new one; a put
        # that refreshed the file before the rename shows in its mtime, and the file goes back.
        try:
            stat = os.stat(aside)
        except FileNotFoundError:  # another sweep put it back meanwhile
            return None
        if stat.st_mtime >= before:
            _put_back(aside, path)
            return None
        try:
            os.unlink(aside)
        except OSError:
            _put_back(aside, path)
            raise
        return stat.st_size

    def aged(self, before: float, *, after: str = "") -> Iterator[str]:
        """Keys of the blobs last put before `before` (a time.time()), in key order, starting
        past `after`. On the way it puts back blobs an interrupted `discard` left aside, and
        removes temporary files of interrupted puts that are older than `before`."""
        for top in _subdirs(self.root, after[:2]):
            for leaf in _subdirs(top, after[2:4] if top.name == after[:2] else ""):
                with os.scandir(leaf) as scan:
                    entries = sorted(scan, key=lambda entry: entry.name)
                for entry in entries:
                    name = entry.name
                    if _is_key(name):
                        if name > after and _mtime(entry) < before:
                            yield name
                    elif name.endswith(ASIDE) and _is_key(name[: -len(ASIDE)]):
                        # Judged again on the next sweep, like any blob.
                        try:
                            _put_back(Path(entry.path), leaf / name[: -len(ASIDE)])
                        except OSError as exc:
                            log.warning("could not put blob %s back: %s", name, exc)
                    elif name.startswith(TEMP_PREFIX) and _mtime(entry) < before:
                        _unlink_quietly(Path(entry.path))

    def _each(self, call: Callable[[T], object], items: list[T]) -> None:
        if len(items) <= 1:
            for item in items:
                call(item)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="blob-sync")
        for _ in self._pool.map(call, items):
            pass


@dataclass
class Swept:
    """What one sweep did (`resume_after` is set when it stopped at its time budget)."""

    files: int = 0
    bytes: int = 0
    in_use: int = 0
    failed: int = 0
    resume_after: str | None = None


async def sweep(
    store: BlobStore,
    *,
    in_use: Callable[[list[str]], Awaitable[Collection[str]]],
    before: float,
    after: str = "",
    seconds: float | None = None,
    chunk: int = SWEEP_CHUNK,
) -> Swept:
    """Remove the blobs last put before `before` that `in_use` does not claim, a chunk of
    keys at a time; past `seconds` it stops after a chunk and says where to resume. `in_use`
    must be done with the database when it returns: files are removed after it, outside any
    transaction. A file that cannot be removed is counted and skipped."""
    swept = Swept()
    started = time.monotonic()
    keys = store.aged(before, after=after)
    while batch := await asyncio.to_thread(lambda: list(itertools.islice(keys, chunk))):
        used = await in_use(batch)
        garbage = [key for key in batch if key not in used]
        swept.in_use += len(batch) - len(garbage)
        await asyncio.to_thread(_discard_all, store, garbage, before, swept)
        if seconds is not None and time.monotonic() - started >= seconds:
            swept.resume_after = batch[-1]
            break
    return swept


def _discard_all(store: BlobStore, keys: list[str], before: float, swept: Swept) -> None:
    for key in keys:
        try:
            freed = store.discard(key, before=before)
        except OSError as exc:
            log.warning("could not remove blob %s: %s", key, exc)
            swept.failed += 1
            continue
        if freed is not None:
            swept.files += 1
            swept.bytes += freed


def _is_key(name: str) -> bool:
    return len(name) == 64 and HEX.issuperset(name)


def _touch(path: Path) -> bool:
    """Set the file's mtime to now; False when there is no such file."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def _put_back(aside: Path, path: Path) -> None:
    """Return a blob set aside to its name, unless a put wrote it there again meanwhile (the
    same bytes, and a fresher mtime that must stay)."""
    try:
        os.link(aside, path)
    except FileExistsError:
        pass
    except FileNotFoundError:  # another sweep put it back already
        return
    except OSError:  # no hard links here: a put racing this one keeps the older mtime
        os.replace(aside, path)
        _fsync_dir(path.parent)
        return
    else:
        _fsync_dir(path.parent)
    _unlink_quietly(aside)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:  # removed since the listing: never older than anything
        return float("inf")


def _subdirs(folder: Path, start: str) -> list[Path]:
    """`folder`'s two-letter subdirectories named `start` or later, in order."""
    try:
        with os.scandir(folder) as scan:
            names = sorted(e.name for e in scan if len(e.name) == 2 and e.is_dir())
    except FileNotFoundError:  # nothing stored yet
        return []
    return [folder / name for name in names if name >= start]


def _make_dirs(folder: Path) -> Iterable[Path]:
    """Create `folder` and missing parents; yield the directories whose entries changed."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        yield created.parent


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
