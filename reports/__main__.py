"""``python -m chatkit_pg.reports RESULTS_DIR [--baseline DIR] [--threshold 0.1]``."""

import sys

from .cli import main

sys.exit(main())
