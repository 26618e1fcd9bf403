"""``python -m graphnet``: the same as the ``graphnet`` command."""

import sys

from ._start import main

if __name__ == "__main__":
    sys.exit(main())
