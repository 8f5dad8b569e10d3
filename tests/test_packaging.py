"""The templates load from a built wheel and from an editable install (docs/design.md, the emit layer).

Both tests build the package from this checkout with pip, so they need the network or pip's
cache for setuptools; they skip when pip cannot build.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import circuitc

REPO = Path(__file__).resolve().parent.parent

PROBE = (
    "import circuitc, sympy as sp, pathlib;"
    "x = sp.Symbol('x');"
    "m = circuitc.compile(sp.cos(sp.sin(x**2) + 3*x**2), wrt=[x]);"
    "print(pathlib.Path(circuitc.__file__).resolve());"
    "print(repr(m.value_and_grad(x=0.5)[1]['x']))"
)


def _hand_dx(x: float) -> float:
    """The notes' small example, differentiated by hand: -sin(u)·(2x·cos(x²) + 6x)."""
    import math

    u = math.sin(x * x) + 3 * x * x
    return -math.sin(u) * (2 * x * math.cos(x * x) + 6 * x)


def _deps_dir(tmp_path: Path) -> Path:
    """A folder that exposes only the run-time dependencies (not an installed circuitc)."""
    deps = tmp_path / "deps"
    deps.mkdir()
    for name in ("sympy", "numpy", "jinja2", "markupsafe", "mpmath"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations
        src = Path(list(spec.submodule_search_locations)[0])
        (deps / name).symlink_to(src, target_is_directory=True)
    return deps


def _run(python: str, pythonpath: Path, cwd: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(pythonpath)
    out = subprocess.run(
        [python, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_wheel_ships_templates_and_compiles(tmp_path):
    built = _pip("wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(REPO), cwd=tmp_path)
    if built.returncode != 0:
        pytest.skip(f"pip could not build the wheel: {built.stderr.strip().splitlines()[-1:]}")
    (wheel,) = (tmp_path / "dist").glob("circuitc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "circuitc/templates/module.py.j2" in names
    assert "circuitc/templates/helpers.py.j2" in names
    assert "circuitc/py.typed" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    deps = _deps_dir(tmp_path)
    lines = _run(sys.executable, Path(f"{site}{os.pathsep}{deps}"), cwd=tmp_path)
    assert lines[0].startswith(str(site))
    assert float(lines[1]) == pytest.approx(_hand_dx(0.5), rel=1e-12)


def test_editable_install_finds_templates(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "-q",
            "-e",
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if installed.returncode != 0:
        pytest.skip(
            f"pip could not make the editable install: {installed.stderr.strip().splitlines()[-1:]}"
        )
    deps = _deps_dir(tmp_path)
    lines = _run(python, deps, cwd=tmp_path)
    assert lines[0] == str((REPO / "circuitc" / "__init__.py").resolve())
    assert float(lines[1]) == pytest.approx(_hand_dx(0.5), rel=1e-12)
    assert Path(site).is_dir()


def test_installed_package_has_version():
    assert circuitc.__version__.count(".") == 2
