"""The `lepton` command (also `kubectl lepton`, through the `kubectl-lepton` entry point).

Built on Click, with rich for tables and the live view. Not Typer: since 0.2x Typer requires
pydantic and builds a pydantic TypeAdapter per parameter while parsing, about 0.4 s before any
command runs, which alone breaks the start-up budget of `lepton get` (under 0.5 s). Each command
imports what it needs when it runs; the `kubernetes` package (0.6 s) is never imported, pydantic's
models only by the commands that validate or type objects.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from lepton import __version__

T = TypeVar("T")
OUTPUTS = click.Choice(["table", "json", "yaml", "name"])


class Options:
    """The global options (kubectl's names), handed to each command through the context."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
        self.kubeconfig, self.context, self.namespace = kubeconfig, context, namespace

    def cluster(self) -> Any:
        from lepton.client.cluster import connect  # noqa: PLC0415

        return connect(self.kubeconfig, self.context, self.namespace)


def _run(action: Callable[[], T]) -> T:
    """Run a command body; a LeptonError becomes "error: ... -> what to do" and its exit code."""
    from lepton.client.errors import LeptonError  # noqa: PLC0415

    try:
        return action()
    except LeptonError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"  -> {exc.hint}", err=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


class Ordered(click.Group):
    """Commands listed in the order they are defined (the order of a user's day), not A-Z."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=Ordered, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
@click.option("--context", metavar="NAME", help="kubeconfig context (default: its current-context)")
@click.option("--namespace", "-n", metavar="NS", help="namespace (default: the context's)")
@click.version_option(__version__, prog_name="lepton", message="%(prog)s %(version)s")
@click.pass_context
def app(ctx: click.Context, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
    """Lepton: distributed training and inference on Kubernetes."""
    ctx.obj = Options(kubeconfig, context, namespace)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.pass_context
def operator(ctx: click.Context) -> None:
    """Run the operator (its own flags: `lepton operator --help`)."""
    from lepton.cli.operator_command import main as operator_main  # noqa: PLC0415

    raise SystemExit(operator_main(ctx.args))


@app.command()
@click.argument("kind", required=False)
@click.argument("name", required=False)
@click.option("--all-namespaces", "-A", is_flag=True, help="every namespace")
@click.option("--output", "-o", type=OUTPUTS, default="table", show_default=True)
@click.pass_obj
def get(opts: Options, kind: str | None, name: str | None, all_namespaces: bool, output: str) -> None:
    """List TrainingJobs (tj), ModelVersions (mv) and InferenceServices (lisvc), or one of them."""
    from lepton.cli import commands  # noqa: PLC0415

    _run(lambda: commands.get(opts, kind, name, all_namespaces, output))


@app.command()
@click.argument("ref", metavar="KIND/NAME")
@click.pass_obj
def describe(opts: Options, ref: str) -> None:
    """One object with its conditions explained and its recent events."""
    from lepton.cli import commands  # noqa: PLC0415

    _run(lambda: commands.describe(opts, ref))


@app.command()
@click.option("--filename", "-f", type=click.Path(path_type=Path), required=True, help="the manifest")
@click.option("--follow", is_flag=True, help="watch it until it succeeds (exit 0) or fails (exit 1)")
@click.option("--timeout", type=float, help="give up following after this many seconds")
@click.pass_obj
def train(opts: Options, filename: Path, follow: bool, timeout: float | None) -> None:
    """Submit a TrainingJob; with --follow, watch it from admission to its ModelVersion."""
    from lepton.cli import follow as follow_command  # noqa: PLC0415

    _run(lambda: follow_command.train(opts, filename, follow, timeout))


@app.command()
@click.argument("ref", metavar="tj/NAME")
@click.option("--follow", "-f", is_flag=True, help="keep following, across restarts")
@click.pass_obj
def logs(opts: Options, ref: str, follow: bool) -> None:
    """Every rank's log of a TrainingJob, interleaved, each line prefixed with its rank."""
    from lepton.cli import follow as follow_command  # noqa: PLC0415

    _run(lambda: follow_command.logs(opts, ref, follow))


@app.command()
@click.argument("ref", metavar="lisvc/NAME")
@click.option(
    "--input",
    "-i",
    "input_file",
    default="-",
    show_default=True,
    help="a .json, .csv or .npy file; - reads JSON from stdin",
)
@click.option("--url", help="the server's base URL (default: the API server's service proxy)")
@click.option(
    "--token", envvar="LEPTON_TOKEN", help="bearer token for services that need one [$LEPTON_TOKEN]"
)
@click.option("--model", help="model name (default: the service's spec.model.name)")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def predict(
    opts: Options,
    ref: str,
    input_file: str,
    url: str | None,
    token: str | None,
    model: str | None,
    output: str,
) -> None:
    """Send inputs to an InferenceService (Open Inference Protocol v2) and print its outputs."""
    from lepton.cli import commands  # noqa: PLC0415

    _run(lambda: commands.predict(opts, ref, input_file, url, token, model, output))


@app.command()
@click.argument("ref", metavar="lisvc/NAME")
@click.argument("replicas", type=click.IntRange(min=0))
@click.pass_obj
def scale(opts: Options, ref: str, replicas: int) -> None:
    """Set the replicas of an InferenceService."""
    from lepton.cli import commands  # noqa: PLC0415

    _run(lambda: commands.scale(opts, ref, replicas))


@app.group(cls=Ordered)
def rollout() -> None:
    """Show and steer the canary rollout of an InferenceService."""


@rollout.command("status")
@click.argument("name")
@click.pass_obj
def rollout_status(opts: Options, name: str) -> None:
    """The rollout in progress (status.canary) and the traffic split."""
    from lepton.cli import commands  # noqa: PLC0415

    _run(lambda: commands.rollout_status(opts, name))


def _rollout_action(action: str, help_text: str) -> None:
    @click.argument("name")
    @click.option("--version", help="the model version (default: the canary's)")
    @click.pass_obj
    def command(opts: Options, name: str, version: str | None) -> None:
        from lepton.cli import commands  # noqa: PLC0415

        _run(lambda: commands.rollout(opts, action, name, version))

    rollout.command(action, help=help_text)(command)


_rollout_action("promote", "Promote the canary now: annotates lepton.ai/promote=<version>.")
_rollout_action("abort", "Roll the canary back: annotates lepton.ai/abort=<version>.")
_rollout_action("retry", "Roll a rolled-back version out again: annotates lepton.ai/retry=<version>.")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["operator"]:
        # argparse, as always: flags, --help and exit codes of the operator stay as they were.
        from lepton.cli.operator_command import main as operator_main  # noqa: PLC0415

        return operator_main(args[1:])
    try:
        app.main(args=args, prog_name="lepton", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def kubectl_plugin() -> int:
    """`kubectl lepton ...`: kubectl runs kubectl-lepton with the rest of the command line."""
    return main()
