"""`lepton operator`: run the operator. Parsed by argparse exactly as before the user commands
existed (the chart, the image and the Makefile call it), so its flags and exit codes are unchanged."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lepton import __version__
from lepton.settings import SettingsError, add_arguments, from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lepton operator", description="Run the operator (watches TrainingJobs and friends)."
    )
    parser.add_argument("--version", action="version", version=f"lepton {__version__}")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        settings = from_args(args)
    except SettingsError as exc:
        print(f"lepton operator: {exc}", file=sys.stderr)
        return 2
    from lepton.operator import run  # noqa: PLC0415 - kopf is only needed for this command

    run(settings)
    return 0
