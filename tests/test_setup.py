"""The pins live in one place (requirements/constraints.txt); environment.yml installs with them,
requirements/lock.txt (`make lock`) agrees with them; a missing config file is an error, never a default."""

from pathlib import Path

import pytest
import yaml

from tests.helpers import constraint_pins

ROOT = Path(__file__).resolve().parent.parent


# The packages the project's users named; each is pinned, and the environment the tests run in has the pin.
NAMED_PACKAGES = (
    "torch",
    "torchvision",
    "timm",
    "pandas",
    "matplotlib",
    "seaborn",
    "snakemake",
    "pytest-benchmark",
    "scipy",
)


@pytest.mark.parametrize("package", NAMED_PACKAGES)
def test_named_packages_are_pinned_and_installed_at_the_pin(package):
    from importlib.metadata import version

    pins = constraint_pins()
    assert package in pins, f"requirements/constraints.txt does not pin {package}"
    assert version(package).split("+")[0] == pins[package], (
        f"{package} {version(package)} installed, pinned {pins[package]}"
    )


def _project() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lock() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and " " not in line, f"lock.txt: not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    return pins


def test_environment_yml_installs_with_the_constraints():
    """conda / mamba / micromamba: Python from conda-forge, then pip with the constraints file (no
    second copy of the pins). Paths in the pip block resolve against environment.yml's folder."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] and env["channels"][0] == "conda-forge" and "defaults" not in env["channels"]
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    assert "pip" in conda, "pip must be a conda dependency before the pip block (micromamba needs it)"
    python = next(d for d in conda if d.split("=")[0].split(">")[0].strip() == "python")
    minimum = _project()["requires-python"].removeprefix(">=")
    assert python in (f"python={minimum}", f"python>={minimum}"), (python, minimum)
    pip_blocks = [d["pip"] for d in deps if isinstance(d, dict)]
    assert len(pip_blocks) == 1 and list(pip_blocks[0][0].split()) == ["-c", "requirements/constraints.txt"]
    assert (ROOT / pip_blocks[0][0].split()[1]).is_file()
    installs = pip_blocks[0][1:]
    assert len(installs) == 1 and installs[0].startswith("-e .[")
    extras = installs[0].removeprefix("-e .[").removesuffix("]").split(",")
    assert set(extras) <= set(_project()["optional-dependencies"]), extras
    assert not [i for i in pip_blocks[0] if "==" in i], "versions belong in requirements/constraints.txt only"


def test_every_dependency_is_pinned():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = _project()
    deps = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        deps += extra
    pins = constraint_pins()  # normalised names
    missing = [d for d in deps if canonicalize_name(Requirement(d).name) not in pins]
    assert not missing, f"unpinned dependencies: {missing}"


def test_report_dependencies_declared():
    """`snakemake --report` (make demo) needs pygments: snakemake's `reports` extra."""
    from packaging.requirements import Requirement

    snakemake = next(Requirement(d) for d in _project()["dependencies"] if Requirement(d).name == "snakemake")
    assert "reports" in snakemake.extras
    assert "pygments" in constraint_pins()


def test_lock_agrees_with_constraints():
    """requirements/lock.txt (`make lock`) holds every constrained package at its constrained version,
    and every declared dependency."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = _lock()
    wrong = {
        n: (v, lock.get(canonicalize_name(n)))
        for n, v in constraint_pins().items()
        if lock.get(canonicalize_name(n)) != v
    }
    assert not wrong, f"constraint vs lock.txt (run `make lock`): {wrong}"
    project = _project()
    declared = list(project["dependencies"]) + [d for e in project["optional-dependencies"].values() for d in e]
    absent = [d for d in declared if canonicalize_name(Requirement(d).name) not in lock]
    assert not absent, f"declared but not in lock.txt (run `make lock`): {absent}"
    assert "biggait" not in lock


def test_version_flag(capsys):
    from importlib.metadata import version

    from biggait.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"biggait {version('biggait')}")


def test_missing_scale_overlay_is_an_error(tmp_path, monkeypatch):
    """A requested scale whose overlay is missing never falls back to the defaults (paper scale)."""
    import biggait.config as config
    from biggait.errors import ConfigError

    monkeypatch.setattr(config, "config_dir", lambda: tmp_path / "config")  # a wheel install: no config/
    with pytest.raises(ConfigError, match=r"installed without its repository \(config/ not found at .*pip install -e"):
        config.load_experiment(None, scale="demo")
    (tmp_path / "config" / "scales").mkdir(parents=True)  # a checkout lacking the file
    with pytest.raises(ConfigError, match=r"scales/demo.yaml: scale overlay of scale 'demo' not found"):
        config.load_experiment(None, scale="demo")
    with pytest.raises(ConfigError, match=r"nope.yaml: config file not found"):
        config.load_experiment(None, scale="demo", scale_file=tmp_path / "nope.yaml")


def test_claims_default_is_the_repository_file(tmp_path, monkeypatch, capsys):
    import biggait.config as config
    from biggait.cli import main

    assert config.repo_config_file("claims.yaml", what="claims file") == ROOT / "config" / "claims.yaml"
    monkeypatch.setattr(config, "config_dir", lambda: tmp_path / "config")
    assert main(["claims", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: biggait was installed without its repository") and "\n" not in err
