"""The docs cannot drift from the code: the module map of docs/interfaces.md, the schema's table list,
the README's commands and make targets, and the import contract interfaces.md states."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from biggait.cli import COMMANDS, main
from biggait.reporting.specs import TABLE_NAMES

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "biggait"


def _module_map() -> dict[str, str]:
    """docs/interfaces.md's layout block: entry (``config.py``, ``models/``) -> its text (continuation lines too)."""
    text = (REPO / "docs" / "interfaces.md").read_text()
    block = text.split("```\nbiggait/\n", 1)[1].split("```", 1)[0]
    entries: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        m = re.match(r"  (\S+)\s*(.*)", line)
        if m and not line.startswith("   "):
            name = m.group(1)
            entries[name] = m.group(2)
        elif name:
            entries[name] += " " + line.strip()
    return entries


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def test_interfaces_lists_every_module() -> None:
    """Every module of the package is named in the map: a top-level one as its own entry, a stage's module
    in its folder's entry (by its name without ``.py``)."""
    entries = _module_map()
    missing = []
    for p in _modules():
        rel = p.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            ok = rel.name in entries
        else:
            ok = re.search(rf"\b{re.escape(p.stem)}\b", entries.get(f"{rel.parts[0]}/", "")) is not None
        if not ok:
            missing.append(str(rel))
    assert not missing, f"docs/interfaces.md's module map does not name {missing}"
    stale = [e for e in entries if not (PACKAGE / e).exists()]
    assert not stale, f"docs/interfaces.md names modules that do not exist: {stale}"


def test_schema_tables_are_the_code_tables() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert sorted(schema["properties"]["tables"]["items"]["enum"]) == sorted(TABLE_NAMES)


def _readme_commands() -> list[list[str]]:
    """``biggait <command> [<subcommand>]`` of every line of the README's bash blocks."""
    text = (REPO / "README.md").read_text()
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            code = line.split("#", 1)[0]
            for m in re.finditer(r"(?:^|[\s/])biggait ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", code):
                cmd, sub = m.group(1), m.group(2)
                found.append([cmd, sub] if cmd == "data" and sub else [cmd])
    return found


def test_readme_names_commands_that_exist() -> None:
    commands = _readme_commands()
    assert len(commands) >= 10, commands  # the README's command-line section was found
    unknown = sorted({c[0] for c in commands} - set(COMMANDS))
    assert not unknown, f"README names commands biggait does not have: {unknown}"


@pytest.mark.parametrize("argv", sorted({tuple(c) for c in _readme_commands()}), ids=" ".join)
def test_every_readme_command_has_a_working_help(argv: tuple[str, ...], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: biggait {' '.join(argv)}")


def test_readme_make_targets_exist() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), flags=re.M))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", (REPO / "README.md").read_text()))
    named |= set(re.findall(r"^make ([a-z][a-z-]*)", (REPO / "README.md").read_text(), flags=re.M))
    assert named and not named - targets, f"README names make targets the Makefile lacks: {sorted(named - targets)}"


def _import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (at any level, TYPE_CHECKING and function bodies included)."""
    mods = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p for p in PACKAGE.rglob("*.py")
    }
    graph = {}
    for name, p in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps.add(node.module)
                deps |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {d for d in deps if d in mods and d != name and not name.startswith(d + ".")}
    return graph


def test_import_contract_of_interfaces_md() -> None:
    """No import cycle between modules; nothing imports a stage's cli.py; only gpu_check imports parity/."""
    graph = _import_graph()
    cycles = [(a, b) for a, deps in graph.items() for b in deps if a in _reachable(graph, b)]
    assert not cycles, f"import cycles: {sorted(cycles)}"
    cli_users = sorted(
        a
        for a, deps in graph.items()
        for b in deps
        if b.endswith(".cli") and b != "biggait.cli" and a.rsplit(".", 1)[0] != b.rsplit(".", 1)[0]
    )
    assert not cli_users, f"modules importing a stage's cli: {cli_users}"
    parity_users = sorted(
        a
        for a, deps in graph.items()
        if not a.startswith("biggait.parity") and any(b.startswith("biggait.parity") for b in deps)
    )
    assert parity_users == ["biggait.gpu_check", "biggait.gpu_check_biggergait"], parity_users


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen
