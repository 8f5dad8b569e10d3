"""CSV files as people have them: a BOM, any of ``, ; TAB |``, quotes, missing cells, no header.

``read(path)`` returns a ``Table``: the header (or ``None``) and the text cells, each row with
its line number in the file. ``columns(table, ...)`` turns a table into numbers: features as a
float64 matrix and the target as numbers, or as text when any target cell is not a number
(class labels such as ``setosa``). Every cell is parsed with ``float``; nothing is evaluated.

The delimiter is the one of ``, ; TAB |`` that splits every row into the same, largest number
of cells (``csv.Sniffer``'s proposal on a tie; a comma when none does). The first row is the header when it has text
where the rows below have numbers; else the file has no header and its columns are bound by
position (a headerless file's text labels do not make its first row a header).
With ``decimal=","`` (``--decimal ,``) numbers are written ``1,5`` and the comma is never the
delimiter (a cell with both marks, ``1.234,5``, is refused rather than misread). A cell that is empty, ``NA``, ``N/A``, ``NaN``, ``null``, ``None`` or ``?`` (any case) is
missing: an error naming its line and column, or, with ``missing="drop"``, its row is left out.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError

#: the delimiters the sniffer chooses among
DELIMITERS = ",;\t|"
#: cells that mean "no value" (compared after strip() and lower())
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
#: what may be done with a row that has a missing cell
MISSING_POLICIES = ("error", "drop")
_SAMPLE = 64 * 1024
#: a number written with a decimal comma (1,5 or -0,25e3), for the hint
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+([eE][+-]?\d+)?")


@dataclass
class Table:
    """The text of a CSV file: ``header`` (``None`` when the file has none) and the data rows.

    ``lines[i]`` is the line number (1-based, in the file) of ``rows[i]``, for messages.
    """

    path: Path
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]
    delimiter: str
    decimal: str = "."

    @property
    def names(self) -> list[str]:
        """The column names, or ``column 1``, ``column 2``, … when there is no header."""
        if self.header is not None:
            return list(self.header)
        width = len(self.rows[0]) if self.rows else 0
        return [f"column {j + 1}" for j in range(width)]


@dataclass
class Columns:
    """Numbers from a ``Table``: ``X`` (rows × features), ``y`` (numbers, text, or ``None``)."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str] | None  # None: the file had no header (bind by position)
    target_name: str | None
    dropped: list[int] = field(default_factory=list)  # line numbers of rows left out


def _decode(path: Path, raw: bytes, encoding: str | None) -> str:
    """The file's text: UTF-8 (a BOM dropped; UTF-16 when it starts with a UTF-16 BOM)."""
    if encoding is None:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8-sig"
    elif codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        bad = raw[e.start : e.start + 1].hex()
        name = "UTF-8" if encoding == "utf-8-sig" else encoding
        raise DataError(
            f"{path}: not {name} text (byte 0x{bad} on line {line}); give its encoding, "
            "e.g. --encoding latin-1 (encoding='latin-1' in Python)"
        ) from None


def _widths(sample: str, sep: str, quote: str) -> set[int]:
    """The numbers of cells the sample's non-blank rows have when split at ``sep``."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=sep, quotechar=quote)
    try:
        return {len(row) for row in reader if any(cell.strip() for cell in row)}
    except csv.Error:
        return set()


def _dialect(text: str, delimiter: str | None, decimal: str = ".") -> tuple[str, str]:
    """``(delimiter, quote character)`` of the file's text.

    Of the delimiters that split every row of the sample into the same number (more than one)
    of cells, the one giving the most cells (``csv.Sniffer``'s proposal first on a tie, then
    ``, ; TAB |``); a comma when none does (one column). So a label such as ``a;b`` in a
    comma file does not make it a semicolon file.
    """
    if delimiter is not None:
        if len(delimiter) != 1 or delimiter in "\r\n\"'":
            raise DataError(f"the delimiter must be one character, got {delimiter!r}")
        return delimiter, '"'
    sample = text[:_SAMPLE]
    if len(text) > _SAMPLE:  # the sample's last line may be cut short
        sample = sample[: sample.rfind("\n") + 1] or sample
    candidates = []
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
        candidates.append((sniffed.delimiter, sniffed.quotechar or '"'))
    except csv.Error:  # one column, or too little text to tell
        pass
    candidates += [(sep, '"') for sep in DELIMITERS]
    candidates = [(sep, quote) for sep, quote in candidates if sep != decimal]
    best, most = (";" if decimal == "," else ",", '"'), 1
    for sep, quote in candidates:  # the most cells wins; on a tie, the sniffer's choice
        widths = _widths(sample, sep, quote)
        if len(widths) == 1 and (width := widths.pop()) > most:
            best, most = (sep, quote), width
    return best


def is_number(cell: str, decimal: str = ".") -> bool:
    """Does ``float`` read the cell (its decimal mark ``decimal``)?"""
    try:
        float(_decimal_point(cell, decimal))
    except ValueError:
        return False
    return True


def _decimal_point(cell: str, decimal: str) -> str:
    """The cell with its decimal mark as ``float`` reads it (``1,5`` → ``1.5``)."""
    return cell if decimal == "." or "." in cell else cell.replace(decimal, ".")


def read(
    path, *, encoding: str | None = None, delimiter: str | None = None, decimal: str = "."
) -> Table:
    """The header and text cells of the CSV file at ``path`` (see the module doc)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        text = _decode(path, raw, encoding)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None
    if "\x00" in text:
        raise DataError(f"{path}: not a CSV text file (it holds NUL bytes)")
    rows: list[list[str]] = []
    lines: list[int] = []
    sep, quote = _dialect(text, delimiter, decimal)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=sep,
        quotechar=quote,
        doublequote=True,  # RFC 4180 (the sniffer says False when the sample has no "")
        skipinitialspace=True,
    )
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"{path}: line {reader.line_num}: {e}") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    header = None
    if decimal not in (".", ","):
        raise DataError(f"the decimal mark must be '.' or ',', got {decimal!r}")
    if decimal == sep:
        raise DataError(f"the decimal mark {decimal!r} is also the delimiter; give --delimiter")
    if _has_header(rows, decimal):
        header = rows[0]
        rows, lines = rows[1:], lines[1:]
        _check_names(path, header)
    if not rows:
        raise DataError(f"{path}: needs a header row and at least one data row")
    width = len(header) if header is not None else len(rows[0])
    for row, line in zip(rows, lines, strict=True):
        if len(row) != width:
            what = "the header has" if header is not None else "the first row has"
            raise DataError(f"{path}: line {line} has {len(row)} cells, {what} {width}")
    return Table(path, header, rows, lines, sep, decimal)


def _has_header(rows: list[list[str]], decimal: str = ".") -> bool:
    """Is the first row names? Yes when one of its cells is not a number where the rows below
    (the first few) have numbers in that column; a first row whose only text is in a text
    column (class labels) is data. A lone row with any text is a header."""
    first, below = rows[0], rows[1:6]
    text = [j for j, cell in enumerate(first) if not is_number(cell, decimal)]
    if not below:
        return bool(text)
    return any(any(j < len(r) and is_number(r[j], decimal) for r in below) for j in text)


def _check_names(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if not name:
            raise DataError(
                f"{path}: column {j + 1} has no name in the header (an unnamed index column? "
                "name it or leave it out)"
            )
        if name in seen:
            raise DataError(
                f"{path}: column {name!r} appears twice (columns {seen[name] + 1} and {j + 1})"
            )
        seen[name] = j


def target_index(table: Table, target_column: str | None) -> int:
    """The target's column: ``target_column``, else a column named ``target``, else the last."""
    names = table.names
    if target_column is None:
        return names.index("target") if "target" in names else len(names) - 1
    if target_column in names:
        return names.index(target_column)
    raise DataError(
        f"{table.path}: no column {target_column!r}; the columns are {', '.join(names)}"
    )


def columns(
    table: Table,
    target_column: str | None = None,
    *,
    has_target: bool = True,
    missing: str = "error",
) -> Columns:
    """Features and target of ``table`` as numbers (the target as text when it is not numbers)."""
    if missing not in MISSING_POLICIES:
        raise DataError(f"missing= must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}")
    names = table.names
    if len(names) < 1 + has_target:
        raise DataError(f"{table.path}: needs at least one feature column and a target column")
    target = target_index(table, target_column) if has_target else None
    keep = [j for j in range(len(names)) if j != target]
    rows, lines, dropped = [], [], []
    for row, line in zip(table.rows, table.lines, strict=True):
        gap = next((j for j, cell in enumerate(row) if cell.lower() in MISSING), None)
        if gap is None:
            rows.append(row)
            lines.append(line)
        elif missing == "drop":
            dropped.append(line)
        else:
            raise DataError(
                f"{table.path}: line {line}, column {names[gap]!r}: missing value "
                f"({row[gap]!r}); leave such rows out with --missing drop (missing='drop')"
            )
    if not rows:
        raise DataError(f"{table.path}: no row without a missing value")
    X = np.empty((len(rows), len(keep)))
    for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
        for k, j in enumerate(keep):
            X[i, k] = _number(table, row[j], line, names[j])
    feature_names = [names[j] for j in keep] if table.header is not None else None
    if target is None:
        return Columns(X, None, feature_names, None, dropped)
    cells = [row[target] for row in rows]
    if all(is_number(c, table.decimal) for c in cells):
        y = np.array(
            [_number(table, c, ln, names[target]) for c, ln in zip(cells, lines, strict=False)]
        )
    else:
        y = np.array(cells, dtype=str)  # class labels
    return Columns(X, y, feature_names, names[target], dropped)


def _number(table: Table, cell: str, line: int, column: str) -> float:
    try:
        value = float(_decimal_point(cell, table.decimal))
    except ValueError:
        comma = table.decimal == "." and _DECIMAL_COMMA.fullmatch(cell)
        hint = " (a decimal comma? give --decimal ,)" if comma else ""
        raise DataError(
            f"{table.path}: line {line}, column {column!r}: {cell!r} is not a number{hint}"
        ) from None
    if not math.isfinite(value):
        raise DataError(f"{table.path}: line {line}, column {column!r}: {cell} is not finite")
    return value
