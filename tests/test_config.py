from pathlib import Path

import pytest

from biggait.config import Experiment, dump_yaml, experiment_from_dict, load_experiment, to_dict
from biggait.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text, name="exp.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_are_released_ccpg_schedule():
    exp = load_experiment(scale="paper")
    assert exp.train.milestones == (15000, 25000, 30000, 35000)
    assert exp.train.total_iters == 40000 and exp.train.lr == 0.1
    assert exp.loss.diversity_weight == 5.0 and exp.model.lvm == "vits14"


def test_unknown_key_names_path_and_file(tmp_path):
    p = write(tmp_path, "train:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: train.lrr: unknown key"):
        load_experiment(p, scale="paper")


def test_wrong_type_names_path_and_file(tmp_path):
    p = write(tmp_path, "train:\n  total_iters: ten\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: train.total_iters: expected an integer"):
        load_experiment(p, scale="paper")


def test_literal_choice_checked(tmp_path):
    p = write(tmp_path, "model:\n  taps: middle\n")
    with pytest.raises(ConfigError, match=r"model.taps: expected one of"):
        load_experiment(p, scale="paper")


def test_override_goes_through_same_checks(tmp_path):
    exp = load_experiment(scale="paper", overrides=["train.lr=0.05", "model.channels=[8,16,32,64]"])
    assert exp.train.lr == 0.05 and exp.model.channels == (8, 16, 32, 64)
    with pytest.raises(ConfigError, match=r"train.lr: expected a number"):
        load_experiment(scale="paper", overrides=["train.lr=fast"])
    with pytest.raises(ConfigError, match=r"train.nope: unknown key"):
        load_experiment(scale="paper", overrides=["train.nope=1"])
    with pytest.raises(ConfigError, match=r"expected KEY=VALUE"):
        load_experiment(scale="paper", overrides=["train.lr"])


def test_relative_paths_resolve_against_the_file(tmp_path):
    (tmp_path / "sub").mkdir()
    p = write(tmp_path / "sub", "data:\n  root: ../data/ccpg\n")
    exp = load_experiment(p, scale="paper")
    assert exp.data.root == str((tmp_path / "data" / "ccpg").resolve())


def test_round_trip_through_dict():
    exp = load_experiment(scale="paper", overrides=["name=x", "train.milestones=[1,2]"])
    again = experiment_from_dict(to_dict(exp))
    assert again == exp and isinstance(again, Experiment)
    assert "milestones:" in dump_yaml(exp)


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_experiment(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("CCPG", "ccpg"),
        ("CASIA-B", "casiab"),
        ("CASIA-B*", "casiab"),
        ("SUSTech1K", "sustech1k"),
        ("CCGR-Mini", "ccgr_mini"),
        ("casia-b*", "casiab"),
        ("sustech1k", "sustech1k"),
    ],
)
def test_dataset_names_as_opengait_writes_them(spelling, name):
    from biggait.datasets import get_preset, get_protocol

    assert get_preset(spelling).name == name and get_protocol(spelling)[0] == name
    exp = load_experiment(None, scale="demo", overrides=[f"data.dataset={spelling}"])
    assert exp.data.dataset == name


def test_deprecated_sils_size_still_loads_with_one_warning(capsys, tmp_path):
    """model.sils_size was renamed model.gre_map_width: the old key loads (file or --set), warns once, and
    giving both is an error."""
    import biggait.config as config_module

    config_module._warned.clear()
    exp = load_experiment(REPO / "config/experiments/biggait_ccpg.yaml", scale="demo", overrides=["model.sils_size=4"])
    load_experiment(REPO / "config/experiments/biggait_ccpg.yaml", scale="demo", overrides=["model.sils_size=4"])
    assert exp.model.gre_map_width == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: --set: model.sils_size is deprecated, use model.gre_map_width (same meaning)"]
    old = tmp_path / "old.yaml"
    old.write_text("model:\n  sils_size: 6\n")
    assert load_experiment(old, scale="demo").model.gre_map_width == 6
    with pytest.raises(ConfigError, match="give only gre_map_width"):
        load_experiment(old, scale="demo", overrides=["model.gre_map_width=6", "model.sils_size=6"])


def test_paper_paths_have_one_home():
    """config/scales/paper.yaml holds every paper-scale path (all dataset presets, every DINOv2 variant); the
    DAG's config/paper.yaml holds none, and an experiment at paper scale is filled from the overlay."""
    import yaml

    from biggait.config import scale_paths
    from biggait.datasets import DATASETS
    from biggait.models.backbone import VARIANTS

    dag = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    assert not {"roots", "partitions", "lvm_checkpoints"} & set(dag)
    paths = scale_paths("paper")
    assert set(paths.roots) == set(paths.partitions) == set(DATASETS)
    assert set(paths.lvm_checkpoints) == set(VARIANTS)
    exp = load_experiment(REPO / "config/experiments/biggait_sustech1k.yaml", scale="paper")
    assert exp.data.root == paths.roots["sustech1k"] and exp.data.partition == paths.partitions["sustech1k"]
    assert (
        exp.model.lvm_checkpoint
        == paths.lvm_checkpoints["vits14"]
        == str(REPO / "checkpoints/dinov2_vits14_pretrain.pth")
    )
    given = load_experiment(
        REPO / "config/experiments/biggait_sustech1k.yaml",
        scale="paper",
        overrides=["data.root=/x", "model.lvm_checkpoint=/y"],
    )
    assert (given.data.root, given.model.lvm_checkpoint) == ("/x", "/y")  # the fill rule fills only what is empty
    moved = paths.overridden(roots={"ccpg": "/data/ccpg"})
    assert moved.roots["ccpg"] == "/data/ccpg" and moved.roots["casiab"] == paths.roots["casiab"]


def test_a_bad_scale_path_map_is_refused(tmp_path):
    from biggait.config import scale_paths

    bad = tmp_path / "paper.yaml"
    bad.write_text("roots: [a, b]\n")
    with pytest.raises(ConfigError, match=r"paper.yaml: roots: expected a mapping"):
        scale_paths("paper", bad)
