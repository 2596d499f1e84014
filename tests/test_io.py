"""Atomic writes and file hashes (``routebench.io``)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from routebench import io


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    io.write_json(target, {"a": 1})

    def half_then_fail(p: Path) -> None:
        p.write_text('{"a": 2, "b": ')  # half a file, then the process "crashes"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.write_with(target, half_then_fail)
    assert io.read_json(target) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        io.write_with(tmp_path / "new.txt", lambda p: (_ for _ in ()).throw(RuntimeError("x")))
    assert list(tmp_path.iterdir()) == []


def test_written_files_get_the_umask_mode(tmp_path: Path) -> None:
    path = io.write_text(tmp_path / "f.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_write_hashed_reports_the_bytes_in_place(tmp_path: Path) -> None:
    array = np.arange(1000, dtype=np.float32).reshape(100, 10)
    sha, size = io.write_hashed(tmp_path / "a.npy", lambda p: io.save_npy(p, array))
    data = (tmp_path / "a.npy").read_bytes()
    assert sha == hashlib.sha256(data).hexdigest() == io.file_sha256(tmp_path / "a.npy")
    assert size == len(data)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), array)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]  # no stray ".npy" twin
