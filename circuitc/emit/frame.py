"""The text a backend puts around the printed nodes: the seed, a typed constant J, the
gradients' helpers. The planner asks its printer for these (``Printer`` inherits the NumPy
module's), so a backend that prints other calls (``array_api.py``) changes them in one place.
"""

from __future__ import annotations


class NumpyFrame:
    """The NumPy module's frame: ``_ones_like``, ``_dt.type``, ``_reduce``, ``_zeros_like``."""

    #: whether later adjoint contributions may be added into an array the module owns
    #: (``_d_x += ...``); a backend whose arrays may be immutable (JAX) writes ``x = x + ...``
    IN_PLACE = True

    #: whether the prologue's fast test may pass a scalar argument as a Python float
    #: (``floats.py``; the array-API backend converts every argument itself)
    PYTHON_FLOATS = True

    helpers: set[str]

    def seed(self, output: str) -> str:
        """The seed dJ/dJ = 1, shaped like J."""
        return f"_ones_like({output})"

    def typed(self, constant: str) -> str:
        """A constant J (or prediction) as a float of the arguments' dtype."""
        return f"_dt.type({constant})"

    def broadcast_to(self, value: str, shape: str) -> str:
        """``value`` broadcast to ``shape`` (a read-only view)."""
        return f"_np.broadcast_to({value}, {shape})"

    def helper(self, name: str, args: str) -> str:
        """A call of the module's own gradient helper ``name`` (``_reduce``, ``_own``)."""
        if name == "_own":
            self.helpers.add(name)
        return f"{name}({args})"

    def zeros_like(self, value: str) -> str:
        """The gradient of a parameter J does not depend on."""
        return f"_zeros_like({value})"


class MathFrame(NumpyFrame):
    """The Python-float fast path's frame: plain floats, before the prologue defines ``_dt``."""

    def seed(self, output: str) -> str:
        return "1.0"

    def typed(self, constant: str) -> str:
        return f"_np.float64({constant})"
