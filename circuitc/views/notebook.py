"""Notebook views: a ``Circuit`` or a compiled module shown as its Forward | Backward table and
its emitted code.

Importing this module installs ``circuit_markdown`` as ``Circuit``'s Markdown view (the front
end keeps a hook and never imports the views); ``circuitc/__init__.py`` imports it.
"""

from __future__ import annotations

import html
import types

from ..emit.render import render
from ..errors import CircuitError
from ..front import circuit as _circuit
from ..pipeline import build
from .table import TableReport, table

#: a notebook shows at most this many table rows (a deep circuit has thousands)
NOTEBOOK_ROWS = 60


def _short(report: TableReport) -> tuple[TableReport, int]:
    hidden = max(0, len(report.rows) - NOTEBOOK_ROWS)
    if hidden:
        report.rows = report.rows[:NOTEBOOK_ROWS]
    return report, hidden


def circuit_markdown(circuit) -> str:
    """A ``Circuit`` in a notebook: its Forward | Backward table and the emitted code."""
    return _notebook_markdown(circuit, None)


def _notebook_markdown(circuit, source: str | None) -> str:
    try:
        code = source if source is not None else render(build(circuit))
        report, hidden = _short(table(circuit))
    except CircuitError as e:  # a notebook view never raises: it says why
        return f"**circuit `{circuit.name}`** does not compile: {e}\n"
    text = f"**circuit `{report.circuit}`**: forward | backward\n\n" + report.format("markdown")
    if hidden:
        text += f"\n({hidden} more rows: `circuitc.table(...)` has them all)\n"
    return (
        text
        + "\n<details><summary>emitted code</summary>\n\n```python\n"
        + code
        + "```\n\n</details>\n"
    )


def _notebook_html(circuit, source: str) -> str:
    report, hidden = _short(table(circuit))
    text = f"<p><b>circuit <code>{html.escape(report.circuit)}</code></b>: forward | backward</p>\n"
    text += report.format("html")
    if hidden:
        text += f"<p>({hidden} more rows: <code>circuitc.table(...)</code> has them all)</p>\n"
    return (
        text
        + f"<details><summary>emitted code</summary><pre><code>{html.escape(source)}</code></pre></details>\n"
    )


def attach_views(module: types.ModuleType) -> None:
    """Give a module compiled by ``circuitc.compile`` its notebook views (table and code).

    Jupyter looks up ``_repr_markdown_``/``_repr_html_`` on the module object; they are set
    on the live module only and never appear in the emitted source.
    """
    circuit = module.__circuit__
    source = module.__source__
    module._repr_markdown_ = lambda: _notebook_markdown(circuit, source)
    module._repr_html_ = lambda: _notebook_html(circuit, source)


_circuit.MARKDOWN_VIEW = circuit_markdown
