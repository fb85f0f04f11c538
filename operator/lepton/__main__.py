"""`python -m lepton`: run the operator (same as `lepton operator`)."""

from __future__ import annotations

import sys

from lepton.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["operator", *sys.argv[1:]]))
