"""`python -m lepton.cli ...`: the `lepton` command without its entry point script."""

from __future__ import annotations

import sys

from lepton.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
