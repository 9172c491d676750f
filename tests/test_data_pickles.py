"""The restricted unpickler: numpy arrays and plain containers load, nothing else can run."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from biggait.data.dataset import GaitDataset
from biggait.data.pickles import load_array, load_pickle, save_array
from biggait.errors import DataError


class Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Plain:
    pass


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int64, np.bool_])
def test_arrays_roundtrip_every_protocol(tmp_path, protocol, dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    p = tmp_path / "a.pkl"
    p.write_bytes(pickle.dumps(a, protocol=protocol))
    b = load_array(p)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_plain_containers_and_scalars(tmp_path):
    obj = {"x": [np.float64(1.5), (1, 2), {3, 4}, frozenset({5}), b"raw", None, 2j], "y": np.zeros(2)}
    for protocol in (2, 4, 5):
        p = tmp_path / f"c{protocol}.pkl"
        p.write_bytes(pickle.dumps(obj, protocol=protocol))
        got = load_pickle(p)
        assert got["x"][:4] == obj["x"][:4] and got["x"][4:] == obj["x"][4:]
        np.testing.assert_array_equal(got["y"], obj["y"])


def test_list_of_frames_is_stacked(tmp_path):
    p = tmp_path / "l.pkl"
    p.write_bytes(pickle.dumps([np.ones((2, 2), np.uint8), np.zeros((2, 2), np.uint8)]))
    assert load_array(p).shape == (2, 2, 2)


def test_reduce_payload_is_rejected_without_running(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(DataError, match=r"evil.pkl: unsafe pickle: refused to load global (posix|os)\.system"):
        load_array(p)
    assert not marker.exists()


def test_class_instance_is_rejected(tmp_path):
    p = tmp_path / "obj.pkl"
    p.write_bytes(pickle.dumps(Plain()))
    with pytest.raises(DataError, match=r"obj.pkl: .*refused to load global .*Plain"):
        load_pickle(p)


def test_non_array_content_is_rejected(tmp_path):
    p = tmp_path / "d.pkl"
    p.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(DataError, match=r"d.pkl: holds a dict, expected a numpy array"):
        load_array(p)


def test_truncated_and_empty_files(tmp_path):
    data = pickle.dumps(np.zeros((4, 3, 16, 8), np.uint8), protocol=4)
    p = tmp_path / "t.pkl"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"t.pkl: truncated pickle"):
        load_array(p)
    (tmp_path / "g.pkl").write_bytes(b"\x80\x04garbage that is no pickle")
    with pytest.raises(DataError, match=r"g.pkl: (corrupt|truncated)"):
        load_array(tmp_path / "g.pkl")
    (tmp_path / "e.pkl").write_bytes(b"")
    with pytest.raises(DataError, match=r"e.pkl: empty file"):
        load_array(tmp_path / "e.pkl")
    with pytest.raises(DataError, match=r"missing.pkl: cannot read"):
        load_array(tmp_path / "missing.pkl")


def test_malicious_file_in_a_dataset_is_named(tmp_path):
    folder = tmp_path / "001" / "U0_D0" / "01_x"
    folder.mkdir(parents=True)
    save_array(folder / "01_x-ratios.pkl", np.full(2, 0.5))
    marker = tmp_path / "pwned"
    (folder / "01_x-aligned-rgbs.pkl").write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(DataError, match=r"01_x/01_x-aligned-rgbs.pkl: unsafe"):
        GaitDataset(tmp_path, "ccpg").load(0)
    assert not marker.exists()


def test_save_array_is_atomic(tmp_path):
    dest = tmp_path / "sub" / "x.pkl"
    save_array(dest, np.arange(3))
    np.testing.assert_array_equal(load_array(dest), np.arange(3))
    assert sorted(os.listdir(dest.parent)) == ["x.pkl"]  # no temporary left behind
