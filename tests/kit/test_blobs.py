"""The blob store: durable, content-addressed, and never a half-written blob under its name."""

from __future__ import annotations

import hashlib
import os

import pytest

from frontdesk.kit.blobs import BlobStore


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
