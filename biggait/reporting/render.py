"""Lay table cells out as a wide table (a pandas pivot) and render it as Markdown (``to_markdown``,
through tabulate) and LaTeX (booktabs, through pandas' ``Styler.to_latex``).

Every number is text by the time it reaches a renderer (fixed decimals), so the same cells always
give the same bytes.
"""

from __future__ import annotations

import math

import pandas as pd

from biggait.errors import DataError
from biggait.reporting.cells import Cell

NOT_RECOVERED = "not recovered"
KEYS = ["train", "test", "method"]
# The lines of a method, in this order: a re-run method gets ours / paper / diff, a cited one one line.
LINE_ORDER = {"ours": 0, "paper": 1, "diff": 2, "paper (cited)": 0, "later work (cited)": 0}
FOOTNOTE = (
    "`ours`: this run: mean ± std over seeds [95% t-interval over seeds]; with one seed, its value "
    "[95% bootstrap interval over test identities, from metrics.csv] where evaluate wrote one; "
    "`paper`: the published value; `diff`: ours - paper; `not recovered`: the paper's value is unknown "
    "to this suite; `cited`: not re-run, copied from paper_reported.csv."
)

CAPTION_KEY = (
    "Ours: mean ± std over seeds [95% t-interval over seeds]; with one seed, the value "
    "[95% bootstrap interval over test identities]."
)


def _num(v: float, digits: int, signed: bool = False) -> str:
    if math.isnan(v):
        return ""
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def ours_text(c: Cell, digits: int) -> str:
    """``mean ± std [low, high]`` (several seeds), ``value [low, high]`` (one seed), or ``missing``."""
    if c.status == "missing":
        return "missing"
    text = _num(c.ours, digits)
    if not math.isnan(c.ours_std):
        text += f" ± {c.ours_std:.{digits}f}"
    if not (math.isnan(c.ci_low) or math.isnan(c.ci_high)):
        text += f" [{c.ci_low:.{digits}f}, {c.ci_high:.{digits}f}]"
    return text


def _lines(c: Cell, digits: int) -> dict[str, str]:
    """The text of one cell on each line of its method."""
    if c.source == "ours":
        return {
            "ours": ours_text(c, digits),
            "paper": NOT_RECOVERED if math.isnan(c.paper) else _num(c.paper, digits),
            "diff": _num(c.diff, digits, signed=True),
        }
    return {"paper (cited)" if c.source == "cited" else "later work (cited)": _num(c.paper, digits)}


def wide_table(cells: list[Cell], digits: int = 1) -> pd.DataFrame:
    """One row per (train, test, method, line), one column per condition, every entry text.

    A re-run method gets an ``ours`` row, a ``paper`` row (``not recovered`` where the paper's value
    is unknown) and, when any paper value is known, a ``diff`` row (ours - paper). Methods that
    are not re-run get one ``paper (cited)`` row (``later work (cited)`` for anchors). Methods and
    conditions keep the order of ``cells``.
    """
    if not cells:
        raise DataError("table: no cells to lay out")
    long = pd.DataFrame(
        [
            {
                "train": c.train,
                "test": c.test,
                "method": c.method,
                "origin": c.source,
                "condition": c.condition,
                "source": line,
                "text": text,
                "paper_known": not math.isnan(c.paper),
            }
            for c in cells
            for line, text in _lines(c, digits).items()
        ]
    )
    long["group"] = long.groupby([*KEYS, "origin"], sort=False).ngroup()  # first appearance order
    long["line"] = long["source"].map(LINE_ORDER)
    known = long.groupby("group")["paper_known"].transform("any")
    long = long[(long["source"] != "diff") | known]
    conditions = list(long["condition"].unique())
    wide = (
        long.drop_duplicates(["group", "line", "condition"], keep="last")
        .pivot(index=["group", "line", *KEYS, "source"], columns="condition", values="text")
        .reindex(columns=conditions)
        .fillna("")
        .reset_index()
        .drop(columns=["group", "line"])
    )
    wide.columns.name = None
    return wide


def _drop_constant(wide: pd.DataFrame) -> pd.DataFrame:
    """Drop the train/test columns when a table has a single train -> test direction."""
    return wide[[c for c in wide.columns if c not in ("train", "test") or wide[c].nunique() > 1]]


def _n_text(table: pd.DataFrame) -> int:
    """How many leading columns are text (left-aligned): up to and including ``source``."""
    return list(table.columns).index("source") + 1


def markdown(title: str, note: str, wide: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table with its title, (demo) note and footnote."""
    table = _drop_constant(wide)
    n_text = _n_text(table)
    align = ["left"] * n_text + ["right"] * (table.shape[1] - n_text)
    out = [f"### {title}", ""]
    if note:
        out += [f"> **{note}**", ""]
    out.append(table.to_markdown(index=False, tablefmt="pipe", colalign=align, disable_numparse=True))
    out += ["", FOOTNOTE, ""]
    return "\n".join(out)


_TEX_ESCAPE = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX special characters of the caption (pandas escapes the cells, not the caption)."""
    out = "".join(_TEX_ESCAPE.get(ch, ch) for ch in text)
    return out.replace("±", r"$\pm$")


def _with_group_rules(tex: str, groups: list[tuple[str, ...]]) -> str:
    """Insert a ``\\midrule`` between the body rows of two methods (``groups``: one key per row)."""
    lines = tex.split("\n")
    first = lines.index(r"\midrule") + 1  # the rule under the header; the body follows, a row a line
    for i in range(len(groups) - 1, 0, -1):
        if groups[i] != groups[i - 1]:
            lines.insert(first + i, r"\midrule")
    return "\n".join(lines)


def latex(title: str, note: str, wide: pd.DataFrame) -> str:
    """A booktabs ``table`` environment; rows of one method are grouped between midrules."""
    table = _drop_constant(wide)
    n_text = _n_text(table)
    styler = (
        table.style.hide(axis="index")
        .format(lambda s: s.replace("±", r"$\pm$"), escape="latex")
        .format_index(escape="latex", axis=1)
        .set_table_styles([{"selector": "small", "props": ":;"}])
    )  # renders as \small
    caption = tex_escape(f"{title}. {CAPTION_KEY}" + (f" {note}" if note else ""))
    tex = styler.to_latex(
        column_format="l" * n_text + "r" * (table.shape[1] - n_text),
        position="t",
        position_float="centering",
        hrules=True,
        caption=caption,
        environment="table",
    )
    groups = [tuple(r) for r in table.iloc[:, : n_text - 1].itertuples(index=False)]
    return r"% requires \usepackage{booktabs}" + "\n" + _with_group_rules(tex, groups)
