"""``python -m benchmarks``: the benchmark runner (``benchmarks/run.py``)."""

import sys

from benchmarks.run import main

sys.exit(main())
