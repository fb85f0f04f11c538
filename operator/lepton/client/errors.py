"""Errors of the client and the `lepton` command: each says what went wrong and what to do."""

from __future__ import annotations


class LeptonError(Exception):
    """A failure the user can act on: ``message`` says what happened, ``hint`` what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message + (f"\n  -> {hint}" if hint else ""))
        self.message = message
        self.hint = hint


class NotFound(LeptonError):
    """The object does not exist."""


class NoCluster(LeptonError):
    """No kubeconfig, or the API server cannot be reached, or it refuses us."""

    exit_code = 3


class UsageError(LeptonError):
    """The command line or the input does not say something the command can do."""

    exit_code = 2


class JobFailed(LeptonError):
    """A followed TrainingJob failed; the message is its reason."""
