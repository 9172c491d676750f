"""The results layout has one home: biggait/paths.py spells every results file's name, and helpers that
return several files name them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from biggait import paths

PACKAGE = Path(__file__).resolve().parent.parent / "biggait"
RULES = Path(__file__).resolve().parent.parent / "workflow" / "rules"
# Names of results files (and the eval layout's seed folder, the <exp>_seed<k> model name) that only
# paths.py spells in code.
NAMES = re.compile(
    r"embeddings\.npz|metrics\.json|metrics\.csv|identity_hits\.npz|job_times\.(csv|md)"
    r"|claims\.(csv|md)|upstream\.(csv|md)|view_matrices|\{\}_seed\{\}|/seed\{\}|^_seed$"
)


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The strings of a module's code, an f-string as its template (``{}`` for each field); docstrings
    are left out (they may describe the layout)."""
    tree = ast.parse(path.read_text())
    skip = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.JoinedStr):
            skip.update(id(v) for v in n.values)
            out.append((n.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in n.values)))
    out += [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip
    ]
    return out


def test_results_file_names_are_spelled_in_paths_only() -> None:
    """Messages and help texts (strings with a space) may name the files to a person; code may not."""
    found = [
        f"{p.relative_to(PACKAGE)}:{line}: {text!r}"
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "paths.py" and "parity" not in p.parts
        for line, text in _code_strings(p)
        if NAMES.search(text) and " " not in text
    ]
    assert not found, f"results file names spelled outside biggait/paths.py: {found}"


def test_rules_pick_files_by_name_not_index() -> None:
    used = [
        f"{p.name}:{i}"
        for p in sorted(RULES.glob("*.smk"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"(_files|table_outputs)\([^)]*\)\[\d\]", line)
    ]
    assert not used, f"rules pick a helper's files by index: {used}"


def test_model_name_round_trip() -> None:
    assert paths.model_name("biggait_ccpg", 3) == "biggait_ccpg_seed3"
    assert paths.parse_model_name("biggait_ccpg_seed3") == ("biggait_ccpg", 3)
    assert paths.parse_model_name("a_seed1_seed2") == ("a_seed1", 2)
    assert paths.parse_model_name("biggait_ccpg") is None and paths.parse_model_name("_seed1") is None
    assert paths.train_job("e", 0) == "train/e_seed0" and paths.evaluate_job("e", 1, "ccpg") == "evaluate/e_seed1_ccpg"


def test_multi_file_helpers_name_their_files() -> None:
    t = paths.table_files("R", "ccpg")
    assert (t.csv, t.wide_csv, t.md, t.tex) == (
        "R/tables/ccpg.csv",
        "R/tables/ccpg_wide.csv",
        "R/tables/ccpg.md",
        "R/tables/ccpg.tex",
    )
    assert paths.claims_files("R") == ("R/claims.csv", "R/claims.md")
    assert paths.upstream_files("R").md == "R/tables/upstream.md"
    assert paths.job_times_files("R").csv == "R/tables/job_times.csv"
    assert paths.metrics_file("R", "e", 0, "ccpg") == f"R/eval/e/seed0/ccpg/{paths.METRICS_CSV}"
