"""``python -m circuitc``: the same command line as the ``circuitc`` script."""

import sys

from .cli import main

sys.exit(main())
