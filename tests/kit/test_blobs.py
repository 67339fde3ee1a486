"""The blob store: durable, content-addressed, never a half-written blob under its name; the
sweep removes only old blobs nobody claims, and never one put again meanwhile."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from frontdesk.kit.blobs import ASIDE, BlobStore, sweep


class TestPutMany:
    def test_returns_the_keys_in_order_and_stores_each_once(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        datas = [b"one", b"two", b"one", b""]
        keys = store.put_many(datas)
        assert keys == [hashlib.sha256(d).hexdigest() for d in datas]
        assert [store.get(key) for key in keys] == datas
        assert store.put_many([b"two", b"three"])[0] == keys[1]  # already there: harmless
        files = [f for f in (tmp_path / "blobs").rglob("*") if f.is_file()]
        assert len(files) == 4

    def test_fsyncs_every_new_file_and_directory_before_returning(self, tmp_path, monkeypatch):
        store = BlobStore(tmp_path / "blobs")
        store.put(b"warm")  # the pool and the root exist
        synced: list[str] = []
        real = os.fsync

        def spy(fd: int) -> None:
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
            real(fd)

        monkeypatch.setattr(os, "fsync", spy)
        keys = store.put_many([b"a", b"b", b"c"])
        paths = [store._path(key) for key in keys]
        # The files were synced under their temporary names, then each renamed directory.
        assert sum(1 for s in synced if os.path.basename(s).startswith("tmp")) == 3
        assert {str(p.parent) for p in paths} <= set(synced)
        assert str(tmp_path / "blobs") in synced  # new first-level directories are entries

    def test_a_failed_fsync_leaves_no_blob_under_its_name(self, tmp_path, monkeypatch):
        store = BlobStore(tmp_path / "blobs")

        def broken(fd: int) -> None:
            raise OSError("disk gone")

        monkeypatch.setattr(os, "fsync", broken)
        with pytest.raises(OSError):
            store.put_many([b"x", b"y"])
        assert not any(f.is_file() for f in (tmp_path / "blobs").rglob("*"))
        assert not store.exists(hashlib.sha256(b"x").hexdigest())


def age(store: BlobStore, key: str, *, hours: float = 25) -> None:
    then = time.time() - hours * 3600
    os.utime(store._path(key), (then, then))


def cutoff(hours: float = 24) -> float:
    return time.time() - hours * 3600


def nothing_in_use(keys: list[str]) -> Awaitable[set[str]]:
    async def answer() -> set[str]:
        return set()

    return answer()


class TestPutAgain:
    def test_storing_stored_bytes_refreshes_the_files_mtime(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        key = store.put(b"same")
        age(store, key)
        assert store._path(key).stat().st_mtime < cutoff()
        assert store.put_many([b"same"]) == [key]
        assert store._path(key).stat().st_mtime > cutoff(hours=0.1)


class TestDiscard:
    def test_removes_a_blob_put_before_the_cutoff(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        key = store.put(b"garbage")
        age(store, key)
        assert store.discard(key, before=cutoff()) == len(b"garbage")
        assert not store.exists(key)
        assert not any(f.is_file() for f in (tmp_path / "blobs").rglob("*"))

    def test_keeps_a_blob_put_again_after_it_was_listed(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        key = store.put(b"wanted again")
        age(store, key)
        assert list(store.aged(cutoff())) == [key]
        store.put(b"wanted again")  # an upload whose row is not committed yet
        assert store.discard(key, before=cutoff()) is None
        assert store.get(key) == b"wanted again"
        assert [f.name for f in (tmp_path / "blobs").rglob("*") if f.is_file()] == [key]

    def test_a_blob_left_aside_goes_back_under_its_name(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        key = store.put(b"interrupted")
        age(store, key)
        path = store._path(key)
        os.rename(path, path.with_name(key + ASIDE))  # a sweep died after setting it aside
        assert list(store.aged(cutoff())) == []  # put back, and judged on the next sweep
        assert store.get(key) == b"interrupted"
        assert list(store.aged(cutoff())) == [key]

    def test_a_blob_put_while_aside_keeps_the_new_copy(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        key = store.put(b"twice")
        age(store, key)
        path = store._path(key)
        os.rename(path, path.with_name(key + ASIDE))
        store.put(b"twice")  # found no file: wrote it anew
        assert list(store.aged(cutoff())) == []  # the fresh copy stays fresh
        assert [f.name for f in path.parent.iterdir()] == [key]


class TestSweep:
    async def test_removes_old_blobs_nothing_claims_and_counts_them(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        old, claimed, young = store.put_many([b"old", b"claimed", b"young"])
        age(store, old)
        age(store, claimed)

        async def in_use(keys: list[str]) -> set[str]:
            return {claimed} & set(keys)

        swept = await sweep(store, in_use=in_use, before=cutoff())
        assert (swept.files, swept.bytes, swept.in_use, swept.failed) == (1, 3, 1, 0)
        assert not store.exists(old)
        assert store.exists(claimed) and store.exists(young)

    async def test_asks_about_keys_a_chunk_at_a_time(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        keys = store.put_many([bytes([n]) for n in range(5)])
        for key in keys:
            age(store, key)
        asked: list[list[str]] = []

        async def in_use(batch: list[str]) -> set[str]:
            asked.append(batch)
            return set(batch)

        swept = await sweep(store, in_use=in_use, before=cutoff(), chunk=2)
        assert [len(batch) for batch in asked] == [2, 2, 1]
        assert [key for batch in asked for key in batch] == sorted(keys)
        assert swept.in_use == 5 and swept.files == 0

    async def test_a_file_that_cannot_be_removed_does_not_stop_the_sweep(
        self, tmp_path, monkeypatch
    ):
        store = BlobStore(tmp_path / "blobs")
        datas = [b"a", b"b", b"c"]
        keys = store.put_many(datas)
        for key in keys:
            age(store, key)
        stuck = sorted(keys)[0]
        real = os.unlink

        def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
            if os.path.basename(path).startswith(stuck):
                raise PermissionError("read-only")
            real(path, *args, **kwargs)

        monkeypatch.setattr(os, "unlink", unlink)
        swept = await sweep(store, in_use=nothing_in_use, before=cutoff())
        assert (swept.files, swept.failed) == (2, 1)
        assert [key for key in keys if store.exists(key)] == [stuck]
        assert store.get(stuck) == datas[keys.index(stuck)]  # still readable under its name

    async def test_removes_temporary_files_of_interrupted_puts_once_old(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        key = store.put(b"kept")
        folder = store._path(key).parent
        old_tmp, new_tmp = folder / "tmpold123", folder / "tmpnew456"
        old_tmp.write_bytes(b"half")
        new_tmp.write_bytes(b"half")  # a put in progress
        then = time.time() - 25 * 3600
        os.utime(old_tmp, (then, then))
        await sweep(store, in_use=nothing_in_use, before=cutoff())
        assert not old_tmp.exists() and new_tmp.exists() and store.exists(key)

    async def test_stops_at_its_time_budget_and_resumes_after_the_last_key(self, tmp_path):
        store = BlobStore(tmp_path / "blobs")
        keys = sorted(store.put_many([b"1", b"2", b"3"]))
        for key in keys:
            age(store, key)
        first = await sweep(store, in_use=nothing_in_use, before=cutoff(), seconds=0, chunk=1)
        assert (first.files, first.resume_after) == (1, keys[0])
        assert [store.exists(key) for key in keys] == [False, True, True]
        rest = await sweep(store, in_use=nothing_in_use, before=cutoff(), after=keys[0])
        assert (rest.files, rest.resume_after) == (2, None)
        assert not any(store.exists(key) for key in keys)
