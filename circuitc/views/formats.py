"""How the views print: numbers as the table shows them, and the table in text, Markdown,
LaTeX and HTML.

The formatters take a report's cells (``header``, ``body``, ``marks``) and its ``footer()``;
they know nothing of how the report was built.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np


def fmt_value(v: Any) -> str:
    """A number as the table shows it: 6 significant digits; a small array in full, else a summary."""
    if v is None:
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    a = np.asarray(v)
    if a.ndim == 0:
        return _num(float(a))
    if a.size <= 4:
        return "[" + ", ".join(_num(float(x)) for x in a.ravel()) + "]"
    shape = "x".join(str(n) for n in a.shape)
    finite = np.isfinite(a)
    text = f"{shape} array"
    if finite.any():
        text += f", max abs {_num(float(np.max(np.abs(a[finite]))))}"
    if not finite.all():
        text += f", {int(a.size - finite.sum())} non-finite"
    return text


def _num(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.6g}"
    return "0" if text == "-0" else text


MARK = "<- first non-finite"


def text_table(r, header, body, marks) -> str:
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)
    ]

    def line(cells) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    where = ""
    if r.at is not None:
        where = " at " + ", ".join(f"{k} = {fmt_value(v)}" for k, v in r.at.items())
    out = [f"{r.circuit}: forward | backward{where}", line(header)]
    out.append("-+-".join("-" * w for w in widths))
    for cells, mark in zip(body, marks, strict=True):
        out.append(line(cells) + (f"  {MARK} {r.first_nonfinite.kind}" if mark else ""))
    foot = r.footer()
    if foot:
        out.append("")
        out.extend(foot)
    return "\n".join(out) + "\n"


def _md_cell(text: str, code: bool) -> str:
    if not text:
        return ""
    text = text.replace("|", "\\|")
    return f"`{text}`" if code else text


def markdown_table(r, header, body, marks) -> str:
    code_cols = {header.index("forward"), header.index("backward")}
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for cells, mark in zip(body, marks, strict=True):
        row = [_md_cell(c, i in code_cols) for i, c in enumerate(cells)]
        if mark:
            row[0] = (row[0] + " " if row[0] else "") + "**first non-finite**"
        out.append("| " + " | ".join(row) + " |")
    foot = r.footer()
    if foot:
        out.append("")
        out.extend(f"- {_md_cell(f, False)}" for f in foot)
    return "\n".join(out) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_ESCAPES))


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX document: the ten special characters replaced."""
    return _LATEX_RE.sub(lambda m: _LATEX_ESCAPES[m.group(0)], text)


def latex_table(r, header, body, marks) -> str:
    code_cols = {header.index("forward"), header.index("backward")}

    def cell(i: int, c: str) -> str:
        if not c:
            return ""
        return f"\\texttt{{{latex_escape(c)}}}" if i in code_cols else latex_escape(c)

    spec = " ".join("l" for _ in header)
    out = [
        f"% circuitc table of the circuit {latex_escape(r.circuit)}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\hline",
        " & ".join(latex_escape(h.capitalize()) for h in header) + " \\\\",
        "\\hline",
    ]
    for cells, mark in zip(body, marks, strict=True):
        row = [cell(i, c) for i, c in enumerate(cells)]
        if mark:
            row[0] = (row[0] + " " if row[0] else "") + "$\\leftarrow$ first non-finite"
        out.append(" & ".join(row) + " \\\\")
    out += ["\\hline", "\\end{tabular}"]
    foot = r.footer()
    if foot:
        out.append("")
        out.extend(f"% {line}" for line in foot)
    return "\n".join(out) + "\n"


def html_table(r, header, body, marks) -> str:
    code_cols = {header.index("forward"), header.index("backward")}

    def cell(i: int, c: str) -> str:
        c = html.escape(c)
        return f"<code>{c}</code>" if c and i in code_cols else c

    out = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for cells, mark in zip(body, marks, strict=True):
        style = ' style="background:#fdd"' if mark else ""
        out.append(
            f"<tr{style}>"
            + "".join(f"<td>{cell(i, c)}</td>" for i, c in enumerate(cells))
            + "</tr>"
        )
    out += ["</tbody>", "</table>"]
    foot = r.footer()
    if foot:
        out.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in foot) + "</ul>")
    return "\n".join(out) + "\n"


_PRETTY = re.compile(r"\b_(?:np|math)\.")


def pretty(code: str, helpers=()) -> str:
    """Emitted code as the notes write it: ``_np.sin(t)`` → ``sin(t)``, ``_sigmoid(a)`` → ``sigmoid(a)``."""
    text = _PRETTY.sub("", code)
    for h in helpers:
        text = re.sub(rf"\b{re.escape(h)}\(", h.lstrip("_") + "(", text)
    return text
