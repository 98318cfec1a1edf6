"""``python -m vislang`` is the same as the ``vislang`` console script."""

import sys

from vislang.cli import main

if __name__ == "__main__":
    sys.exit(main())
