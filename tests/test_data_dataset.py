"""Readers of the OpenGait layout: presets, modality selection, conversions, partitions, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import dump, make_seq, write_partition

from biggait.data.dataset import GaitDataset, load_partition
from biggait.datasets import PRESETS, get_preset, known_presets
from biggait.errors import DataError


def test_presets_follow_the_interface_table():
    assert known_presets() == ["casiab", "ccgr_mini", "ccpg", "sustech1k"]
    assert [PRESETS[n].num_classes for n in ("ccpg", "casiab", "sustech1k", "ccgr_mini")] == [100, 74, 250, 571]
    assert [PRESETS[n].test_max_frames for n in ("ccpg", "casiab", "sustech1k", "ccgr_mini")] == [250, 0, 720, 720]
    s = get_preset("sustech1k")
    assert (s.rgb_layout, s.ratio_layout, s.rgb_glob) == ("hwc", "hw", "05-*-Camera-RGB_raw.pkl")
    assert get_preset("ccpg").glob("sils") == "*-aligned-sils.pkl"
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_preset("ccpg").num_classes = 5  # frozen


def test_unknown_preset_lists_known_ones():
    with pytest.raises(
        DataError, match=r"unknown dataset preset 'gait3d' \(known: casiab, ccgr_mini, ccpg, sustech1k\)"
    ):
        get_preset("gait3d")


@pytest.mark.parametrize("preset", ["ccpg", "casiab", "sustech1k", "ccgr_mini"])
def test_reader_converts_to_one_convention(tmp_path, preset):
    ref = make_seq(tmp_path, "001", "nm-01", "000", T=5, preset=preset)
    ds = GaitDataset(tmp_path, preset, modality="rgb", with_sils=True)
    assert len(ds) == 1 and ds.ids == ["001"]
    out = ds.load(0)
    assert out["rgb"].dtype == np.uint8 and out["rgb"].shape == ref["rgb"].shape
    np.testing.assert_array_equal(out["rgb"], ref["rgb"])
    assert out["ratios"].dtype == np.float32 and out["ratios"].shape == (5,)
    np.testing.assert_allclose(out["ratios"], ref["ratios"], rtol=1e-6)
    np.testing.assert_array_equal(out["sils"], ref["sils"])
    assert ds.length(0) == 5


def test_silhouette_modality_needs_only_sils_and_ratios(tmp_path):
    make_seq(tmp_path, "001", "nm-01", "000", T=4, preset="casiab")
    ds = GaitDataset(tmp_path, "casiab", modality="silhouette")
    assert set(ds.load(0)) == {"sils", "ratios"}
    make_seq(tmp_path, "002", "nm-01", "000", T=4, preset="casiab", sils=False)
    with pytest.raises(DataError, match=r"002/nm-01/000: no sils pickle matching '\*-sils.pkl'"):
        GaitDataset(tmp_path, "casiab", modality="silhouette")


def test_partition_splits_and_labels(tmp_path):
    for k, sid in enumerate(["003", "001", "002", "010"]):
        make_seq(tmp_path, sid, "U0_D0", "01_x", T=3, seed=k)
        make_seq(tmp_path, sid, "U1_D1", "02_y", T=3, seed=k + 10)
    part = write_partition(tmp_path / "p.json", ["003", "001"], ["010", "002"])
    train = GaitDataset(tmp_path, "ccpg", part, split="train")
    test = GaitDataset(tmp_path, "ccpg", part, split="test")
    assert train.ids == ["001", "003"] and test.ids == ["002", "010"]
    assert [(r.id, r.type, r.view) for r in train.sequences] == [
        ("001", "U0_D0", "01_x"),
        ("001", "U1_D1", "02_y"),
        ("003", "U0_D0", "01_x"),
        ("003", "U1_D1", "02_y"),
    ]
    assert train.labels.tolist() == [0, 0, 1, 1] and test.labels.tolist() == [0, 0, 1, 1]
    assert [a.tolist() for a in train.indices_by_label()] == [[0, 1], [2, 3]]
    assert len(GaitDataset(tmp_path, "ccpg")) == 8  # no partition: every id on disk
    with pytest.raises(DataError, match="needs a partition file"):
        GaitDataset(tmp_path, "ccpg", split="train")


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match=r"nope: dataset root not found"):
        GaitDataset(tmp_path / "nope", "ccpg")


def test_partition_id_not_on_disk(tmp_path):
    make_seq(tmp_path / "data", "001", "U0_D0", "01_x", T=3)
    part = write_partition(tmp_path / "p.json", ["001", "042"], [])
    with pytest.raises(DataError, match=r"data/042: id '042' is in the partition but not on disk"):
        GaitDataset(tmp_path / "data", "ccpg", part, split="train")


def test_bad_partition_files(tmp_path):
    with pytest.raises(DataError, match="partition file not found"):
        load_partition(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"TRAIN_SET": "001"}')
    with pytest.raises(DataError, match=r"bad.json: TRAIN_SET: expected a list of id strings"):
        load_partition(tmp_path / "bad.json")


def test_empty_sequence(tmp_path):
    folder = tmp_path / "001" / "U0_D0" / "01_x"
    dump(folder / "01_x-aligned-rgbs.pkl", np.zeros((0, 3, 16, 8), np.uint8))
    dump(folder / "01_x-ratios.pkl", np.zeros(0))
    with pytest.raises(DataError, match=r"01_x: sequence has 0 frames"):
        GaitDataset(tmp_path, "ccpg").load(0)


def test_modality_lengths_differ(tmp_path):
    make_seq(tmp_path, "001", "U0_D0", "01_x", T=5)
    dump(tmp_path / "001" / "U0_D0" / "01_x" / "01_x-ratios.pkl", np.full(4, 0.5))
    with pytest.raises(DataError, match=r"different lengths \(01_x-aligned-rgbs.pkl: 5, 01_x-ratios.pkl: 4\)"):
        GaitDataset(tmp_path, "ccpg").load(0)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((3, 3, 16, 8), np.float32), r"01_x-aligned-rgbs.pkl: rgb dtype float32, expected uint8"),
        (np.zeros((3, 16, 8), np.uint8), r"01_x-aligned-rgbs.pkl: rgb shape \[3, 16, 8\], expected uint8 \[T,3,H,W\]"),
        (np.zeros((3, 16, 8, 3), np.uint8), r"rgb shape \[3, 16, 8, 3\], expected"),
    ],
)
def test_wrong_dtype_or_shape(tmp_path, array, message):
    make_seq(tmp_path, "001", "U0_D0", "01_x", T=3)
    dump(tmp_path / "001" / "U0_D0" / "01_x" / "01_x-aligned-rgbs.pkl", array)
    with pytest.raises(DataError, match=message):
        GaitDataset(tmp_path, "ccpg").load(0)


def test_wrong_ratio_shape_and_ambiguous_files(tmp_path):
    make_seq(tmp_path, "0001", "00-nm", "000", T=3, preset="sustech1k")
    folder = tmp_path / "0001" / "00-nm" / "000"
    dump(folder / "04-000-Camera-Ratios-HW.pkl", np.full(3, 0.5))
    with pytest.raises(DataError, match=r"Ratios-HW.pkl: ratio shape \[3\], expected float \[T,2\] \(H, W\)"):
        GaitDataset(tmp_path, "sustech1k").load(0)
    dump(folder / "05-000b-Camera-RGB_raw.pkl", np.zeros((3, 8, 8, 3), np.uint8))
    with pytest.raises(DataError, match=r"2 files match the rgb pattern .*expected exactly one"):
        GaitDataset(tmp_path, "sustech1k")
