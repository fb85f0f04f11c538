"""The `lepton` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lepton import __version__
from lepton.settings import SettingsError, add_arguments, from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lepton", description="Lepton: distributed training and inference on Kubernetes."
    )
    parser.add_argument("--version", action="version", version=f"lepton {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    operator = commands.add_parser("operator", help="run the operator (watches TrainingJobs and friends)")
    add_arguments(operator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command == "operator":
        try:
            settings = from_args(args)
        except SettingsError as exc:
            print(f"lepton operator: {exc}", file=sys.stderr)
            return 2
        from lepton.operator import run  # noqa: PLC0415 - kopf is only needed for this command

        run(settings)
        return 0
    return 2
