"""The pins live in one place (requirements/constraints.txt); environment.yml mirrors them."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_required_pins_present():
    pins = _constraints()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert pins["timm"] == "1.0.31" and pins["snakemake"] == "9.27.1"


def test_environment_yml_mirrors_constraints():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = {}
    for item in pip_block:
        if "==" in item:
            name, version = item.split("==")
            conda_pins[name.lower()] = version
    assert conda_pins == _constraints()


def test_every_dependency_is_pinned():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        deps += extra
    pins = _constraints()
    missing = [d for d in deps if d.lower() not in pins]
    assert not missing, f"unpinned dependencies: {missing}"


def test_version_flag(capsys):
    from importlib.metadata import version

    from biggait.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"biggait {version('biggait')}")
