"""How a compiled module meets a data set: its arguments' shapes, the binding of features and
targets to them, parameter shapes and their initialisation, and parameters checked on load.

``bind(module, data)`` decides which arguments take the features and the target, the task
(binary, multiclass, regression or loss only) and the dimensions; ``init`` draws the
parameters reproducibly from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .errors import DataError

_ndarray = np.ndarray


# -- the module's arguments and the data they bind --------------------------------------------------
def arg_shapes(module) -> dict[str, tuple]:
    """Each argument's shape: ``()`` for a scalar, else a tuple of ints and dimension names."""
    shapes = getattr(module, "SHAPES", None)
    if shapes is not None:
        return {k: tuple(v) for k, v in shapes.items()}
    circuit = getattr(module, "__circuit__", None)
    if circuit is None:
        raise DataError(f"module {module.NAME!r} does not say the shapes of its arguments")
    symbols = list(circuit.wrt) + list(circuit.features or [])
    symbols += [circuit.target] if circuit.target is not None else []
    out = {}
    for s in symbols:
        shape = getattr(s, "shape", ())
        out[s.name] = tuple(int(d) if d.is_Integer else str(d) for d in shape)
    return out


def _is_bias(shape: tuple) -> bool:
    return len(shape) == 1 or (len(shape) == 2 and shape[0] == 1)


@dataclass
class Binding:
    """How a data set's features and labels become the module's keyword arguments.

    ``layout`` is ``"matrix"`` (one feature matrix argument, rows are instances) or
    ``"columns"`` (one scalar argument per feature column, matched one to one). ``bias`` says
    a column of ones goes first (the notes' x_0 = 1): when the feature matrix has one column
    more than the data. ``task`` is ``"binary"`` (one probability per instance,
    labels 0/1), ``"multiclass"`` (one probability per class, integer labels), ``"regression"``
    or ``None`` (no ``predict``: loss only).
    """

    features: list[str]
    target: str
    layout: str
    bias: bool
    target_shape: tuple
    dims: dict[str, int]
    task: str | None = None
    n_classes: int | None = None
    n_data_features: int = 0

    def encode(self, X: np.ndarray, y: np.ndarray | None):
        """Feature array (with the bias column) and target array, as the module takes them."""
        if X.shape[1] != self.n_data_features:
            raise DataError(
                f"the data has {X.shape[1]} feature columns, the circuit takes "
                f"{self.n_data_features}"
            )
        if self.bias:
            X = np.hstack([np.ones((X.shape[0], 1)), X])
        X = np.ascontiguousarray(X, dtype=np.float64)
        if y is None:
            return X, None
        if self.task == "multiclass":
            Y = np.zeros((y.shape[0], self.n_classes))
            Y[np.arange(y.shape[0]), y.astype(np.intp)] = 1.0
        elif self.layout == "matrix" and len(self.target_shape) == 2:
            Y = y.reshape(-1, 1).astype(np.float64)
        else:
            Y = y.astype(np.float64)
        return X, np.ascontiguousarray(Y)

    def kwargs(self, X: np.ndarray, Y: np.ndarray | None, rows) -> dict:
        """The data keyword arguments for ``rows`` (a slice or an index array)."""
        out = {}
        if self.layout == "matrix":
            out[self.features[0]] = X[rows]
        else:
            Xr = X[rows]
            for j, name in enumerate(self.features):
                out[name] = Xr[..., j]
        if Y is not None:
            out[self.target] = Y[rows]
        return out


def bind(module, data: Dataset) -> Binding:
    """Match the module's ``FEATURES``/``TARGET`` to the data set, or raise ``DataError``."""
    binding = bind_shapes(module, data.n_features, data.n_classes, data.name)
    _check_labels(getattr(module, "NAME", "circuit"), binding, data)
    return binding


def bind_shapes(module, d: int, n_classes: int | None, data_name: str = "data") -> Binding:
    """The ``Binding`` of ``d`` feature columns (and ``n_classes`` classes, when the target has
    one column per class of a symbolic size) to the module's arguments."""
    name = getattr(module, "NAME", "circuit")
    features = list(getattr(module, "FEATURES", ()) or ())
    target = getattr(module, "TARGET", None)
    if not features or target is None:
        raise DataError(
            f"circuit {name!r} does not say which inputs the data binds: "
            "give its Circuit features=... and target=..."
        )
    others = [n for n in module.INPUTS if n not in features and n != target]
    if others:
        raise DataError(
            f"circuit {name!r}: data input {others[0]!r} is neither a feature nor the target"
        )
    shapes = arg_shapes(module)
    dims: dict[str, int] = {}
    if len(features) == 1 and len(shapes[features[0]]) == 2:
        layout = "matrix"
        _rows, cols = shapes[features[0]]
        if isinstance(cols, str):
            bias, dims[cols] = False, d
        elif cols in (d, d + 1):
            bias = cols == d + 1
        else:
            raise DataError(
                f"circuit {name!r}: {features[0]} has {cols} columns ({cols} features, or "
                f"{cols - 1} and the bias column of ones); the data has {d} features ({data_name})"
            )
    else:
        layout = "columns"
        bad = [f for f in features if shapes[f] != ()]
        if bad:
            raise DataError(f"circuit {name!r}: feature {bad[0]!r} is neither a scalar nor X")
        if len(features) != d:
            raise DataError(
                f"circuit {name!r} takes {len(features)} features, the data has {d} columns "
                f"({data_name})"
            )
        bias = False  # named scalar features: the bias is a parameter of its own
    tshape = shapes[target]
    task = None
    k = tshape[-1] if len(tshape) == 2 else 1
    if isinstance(k, str):
        if n_classes is None:
            raise DataError(
                f"circuit {name!r}: {target} has one column per class, labels are not classes"
            )
        dims[tshape[-1]] = k = n_classes
    classes = None
    if hasattr(module, "predict"):
        if k > 1:
            task, classes = "multiclass", k
        else:
            task = (
                "binary" if _predicts_probability(module, shapes, features, dims) else "regression"
            )
            classes = 2 if task == "binary" else None
    return Binding(features, target, layout, bias, tshape, dims, task, classes, d)


def align(module, raw):
    """``raw`` (a ``data.RawData``) with its columns in the order of the module's named scalar
    features, when its column names are exactly those names; else as it is (by position)."""
    features = list(getattr(module, "FEATURES", ()) or ())
    names = raw.feature_names
    if names is None or len(features) < 2 or sorted(names) != sorted(features):
        return raw
    return raw.reorder([names.index(f) for f in features])


def _check_labels(name: str, b: Binding, data: Dataset) -> None:
    """Labels a classifier's loss can take: 0/1 for one probability, 0..K-1 for K classes."""
    if data.classes is not None:
        shown = ", ".join(repr(str(c)) for c in data.classes[:4])
        shown += ", …" if len(data.classes) > 4 else ""
        if b.task not in ("binary", "multiclass"):
            raise DataError(
                f"circuit {name!r} does not classify, but the target {data.target_name!r} "
                f"holds text labels ({shown})"
            )
        if len(data.classes) > b.n_classes:
            raise DataError(
                f"circuit {name!r} has {b.n_classes} classes; the target "
                f"{data.target_name!r} has {len(data.classes)} labels ({shown})"
            )
    if b.task not in ("binary", "multiclass"):
        return
    parts = (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test))
    for part, y in parts:
        bad = (y < 0) | (y >= b.n_classes) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            allowed = "0 or 1" if b.task == "binary" else f"integers 0..{b.n_classes - 1}"
            raise DataError(
                f"circuit {name!r} needs labels {allowed}; the {part} part has {y[i]:g}"
            )


def _size(shape: tuple, dims: dict[str, int], n: int | None, what: str) -> tuple[int, ...]:
    """Concrete sizes; ``n`` sizes an unknown first (batch) dimension, none for a parameter."""
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, int):
            out.append(d)
        elif d in dims:
            out.append(dims[d])
        elif i == 0 and n is not None:
            out.append(n)  # the batch dimension
        else:
            raise DataError(f"cannot size dimension {d!r} of {what} from the data")
    return tuple(out)


def _predicts_probability(module, shapes, features, dims) -> bool:
    """Does ``predict`` stay within [0, 1] for random parameters and large random inputs?

    A sigmoid output always does; an affine output (regression) leaves it at once.
    """
    rng = np.random.default_rng(12345)
    n = 16
    kw = {}
    for name in module.WRT:
        kw[name] = 3.0 * rng.standard_normal(_size(shapes[name], dims, None, name))
    for name in features:
        kw[name] = 5.0 * rng.standard_normal(_size(shapes[name], dims, n, name) or (n,))
    with np.errstate(all="ignore"):  # predict() takes no target
        y = np.asarray(module.predict(**kw), dtype=float)
    return bool(np.all((y >= 0) & (y <= 1)))


# -- initialisation -----------------------------------------------------------------------------
def param_shapes(module, data: Dataset | Binding | None = None) -> dict[str, tuple[int, ...]]:
    """Each parameter's concrete shape (a symbolic dimension sized from ``data``, or from a
    ``Binding`` already made)."""
    shapes = arg_shapes(module)
    if isinstance(data, Binding):
        dims = data.dims
    else:
        dims = bind(module, data).dims if data is not None else {}
    return {w: _size(shapes[w], dims, None, w) for w in module.WRT}


def init(module, seed: int = 0, data: Dataset | None = None) -> dict[str, np.ndarray]:
    """Seeded starting parameters (float64 arrays; a scalar parameter is a 0-d array).

    Zeros when that leaves no parameter stuck — a model without a hidden layer, such as
    logistic regression, whose every parameter has a nonzero gradient at 0. Otherwise (a hidden
    layer: at 0 its weights get no gradient and would stay equal) weights are drawn from a
    normal of standard deviation sqrt(2 / (fan_in + fan_out)) (Glorot), bias rows (1 × H) start
    at 0, and scalar parameters are drawn from a normal of standard deviation 0.5.
    """
    dims = bind(module, data).dims if data is not None else {}
    shapes = arg_shapes(module)
    shapes = {w: _size(shapes[w], dims, None, w) for w in module.WRT}
    params = {w: np.zeros(s) for w, s in shapes.items()}
    if not _stuck_at_zero(module, params, dims):
        return params
    rng = np.random.default_rng(seed)
    for w in module.WRT:
        s = shapes[w]
        p = params[w]
        if s == ():
            p[()] = 0.5 * rng.standard_normal()
        elif not _is_bias(s):
            fan_in, fan_out = s[0], int(np.prod(s[1:]))
            p[...] = math.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal(s)
    return params


def _stuck_at_zero(module, params, dims: dict[str, int]) -> bool:
    """True when some parameter gets an all-zero gradient at all-zero parameters.

    The probe uses random inputs and random targets in (0, 1) (not the data: balanced labels
    would give a bias an exactly zero gradient by chance).
    """
    shapes = arg_shapes(module)
    rng = np.random.default_rng(0)
    n = 8
    kw = {}
    for name in module.INPUTS:
        shape = _size(shapes[name], dims, n, name) if shapes.get(name) else (n,)
        kw[name] = (
            rng.random(shape)
            if name == getattr(module, "TARGET", None)
            else rng.standard_normal(shape)
        )
    with np.errstate(all="ignore"):
        _, g = module.value_and_grad(**params, **kw)
    return any(not np.any(np.asarray(g[w]) != 0) for w in module.WRT)


def check_params(module, params: dict, data: Dataset | Binding | None = None) -> dict:
    """``params`` as float64 arrays of the right shapes (the same arrays when they already are)."""
    want = param_shapes(module, data)
    missing = [w for w in module.WRT if w not in params]
    if missing:
        raise DataError(f"no value for parameter {missing[0]!r}")
    out = {}
    for w in module.WRT:
        p = params[w]
        if not (isinstance(p, np.ndarray) and p.dtype == np.float64):
            p = np.array(p, dtype=np.float64)
        if p.shape != want[w]:
            raise DataError(f"parameter {w!r} has shape {p.shape}, the circuit needs {want[w]}")
        out[w] = p
    return out
