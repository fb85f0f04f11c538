"""``python -m lepton.activator``: the same as the ``lepton-activator`` console script."""

import sys

from lepton.activator.cli import main

sys.exit(main())
