"""Turning generated source into a live module, and writing it to disk atomically."""

from __future__ import annotations

import itertools
import linecache
import os
import sys
import tempfile
import types
from pathlib import Path

_counter = itertools.count()


def load_source(source: str, name: str, filename: str | None = None) -> types.ModuleType:
    """Execute circuitc's own generated ``source`` as a new module named ``name``.

    The source is registered in ``linecache`` under a unique pseudo-filename (or the real
    file it was written to), so tracebacks show the generated lines.
    """
    if filename is None:
        filename = f"<circuitc:{name}:{next(_counter)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    code = compile(source, filename, "exec")
    exec(code, module.__dict__)  # noqa: S102 - circuitc's own emitted code, never user text
    module.__source__ = source
    return module


def write_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        # mkstemp makes the file private (0600); give it the mode an ordinary file would get
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def import_file(path: str | os.PathLike, name: str | None = None) -> types.ModuleType:
    """Import a generated module from a file (it needs nothing but NumPy)."""
    path = Path(path)
    source = path.read_text(encoding="utf-8")
    module = load_source(source, name or path.stem, str(path))
    sys.modules.setdefault(f"circuitc.generated.{module.__name__}", module)
    return module
