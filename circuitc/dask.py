"""``circuitc.dask``: data-parallel gradients over row-chunked Dask arrays (the ``dask`` extra).

``circuitc.dask.value_and_grad(module, params, **data)`` gives J and its gradient over all rows
of ``dask.array`` data, one chunk at a time (``circuitc/training/distributed.py``).
"""

from .training.distributed import value_and_grad

__all__ = ["value_and_grad"]
