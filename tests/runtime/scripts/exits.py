"""A user script that exits with the status given as its argument."""

import sys

sys.exit(int(sys.argv[1]))
