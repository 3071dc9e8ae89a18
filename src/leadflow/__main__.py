"""``python -m leadflow``: the same command line as the ``leadflow`` script."""

import sys

from leadflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
