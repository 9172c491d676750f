"""Lay table cells out as wide rows and render them as Markdown and LaTeX (booktabs)."""

from __future__ import annotations

import math

from biggait.reporting.cells import Cell

NOT_RECOVERED = "not recovered"


def _num(v: float, digits: int, signed: bool = False) -> str:
    if math.isnan(v):
        return ""
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _ours(c: Cell, digits: int) -> str:
    if c.status == "missing":
        return "missing"
    text = _num(c.ours, digits)
    if not math.isnan(c.ours_std):
        text += f" ± {c.ours_std:.{digits}f}"
    return text


def wide_rows(cells: list[Cell], digits: int = 1) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per (train, test, method, source), one column per condition.

    A re-run method gets an ``ours`` row, a ``paper`` row (``not recovered`` where the paper's value
    is unknown) and, when any paper value is known, a ``diff`` row (ours - paper). Methods that
    are not re-run get one ``paper (cited)`` row (``later work (cited)`` for anchors).
    """
    conds: list[str] = []
    groups: dict[tuple[str, str, str, str], dict[str, Cell]] = {}
    for c in cells:
        if c.condition not in conds:
            conds.append(c.condition)
        groups.setdefault((c.train, c.test, c.method, c.source), {})[c.condition] = c
    rows = []
    for (tr, te, method, source), by_cond in groups.items():
        def line(kind: str, fmt) -> list[str]:
            return [tr, te, method, kind] + [fmt(by_cond[k]) if k in by_cond else "" for k in conds]

        if source == "ours":
            rows.append(line("ours", lambda c: _ours(c, digits)))
            rows.append(line("paper", lambda c: NOT_RECOVERED if math.isnan(c.paper) else _num(c.paper, digits)))
            if any(not math.isnan(c.paper) for c in by_cond.values()):
                rows.append(line("diff", lambda c: _num(c.diff, digits, signed=True)))
        else:
            kind = "paper (cited)" if source == "cited" else "later work (cited)"
            rows.append(line(kind, lambda c: _num(c.paper, digits)))
    return ["train", "test", "method", "source"] + conds, rows


def _drop_constant(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Drop the train/test columns when a table has a single train -> test direction."""
    keep = [i for i in range(len(header))
            if i >= 2 or len({r[i] for r in rows}) > 1]
    return [header[i] for i in keep], [[r[i] for i in keep] for r in rows]


def markdown(title: str, note: str, header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table with its title and (demo) note."""
    header, rows = _drop_constant(header, rows)
    out = [f"### {title}", ""]
    if note:
        out += [f"> **{note}**", ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", "`ours`: this run (mean ± std over seeds); `paper`: the published value; "
            "`diff`: ours - paper; `not recovered`: the paper's value is unknown to this suite; "
            "`cited`: not re-run, copied from paper_reported.csv.", ""]
    return "\n".join(out)


_TEX_ESCAPE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
               "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def tex_escape(text: str) -> str:
    """Escape LaTeX special characters (and write ± as $\\pm$)."""
    out = "".join(_TEX_ESCAPE.get(ch, ch) for ch in text)
    return out.replace("±", r"$\pm$")


def latex(title: str, note: str, header: list[str], rows: list[list[str]]) -> str:
    """A booktabs ``table`` environment; rows of one method are grouped between midrules."""
    header, rows = _drop_constant(header, rows)
    n_text = header.index("source") + 1
    spec = "l" * n_text + "r" * (len(header) - n_text)
    out = [r"% requires \usepackage{booktabs}", r"\begin{table}[t]", r"\centering", r"\small",
           rf"\caption{{{tex_escape(title)}{(' ' + tex_escape(note)) if note else ''}}}",
           rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
           " & ".join(tex_escape(h) for h in header) + r" \\", r"\midrule"]
    prev = None
    for r in rows:
        key = tuple(r[: n_text - 1])
        if prev is not None and key != prev:
            out.append(r"\midrule")
        prev = key
        out.append(" & ".join(tex_escape(x) for x in r) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(out)
