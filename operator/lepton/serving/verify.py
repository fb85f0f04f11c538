"""``lepton-serve --verify``: fetch, check the digest, load and warm up a model, then exit.

The ModelVersion controller runs this as a Job. Success prints and leaves (as the termination
message) ``{"verified": true, "digest", "format", "inputs", "outputs", "torchVersion"}``; failure
exits 1 with the reason on stderr and ``{"verified": false, "reason": ...}``, plus ``"kind"`` for
failures the operator must tell apart by more than the reason's text (``ArtifactUnreadable``: the
artifact is there but this uid may not read it).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from lepton.artifacts import ArtifactError
from lepton.serving.fetch import FetchError, fetch
from lepton.serving.model import load_runner
from lepton.serving.termination import write_termination_message


class VerificationFailed(Exception):
    """The artifact is not servable; the message says why, ``kind`` what sort of failure it is."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


def verify_dir(model_dir: Path, *, device: str = "auto", expect_digest: str | None = None) -> dict[str, Any]:
    try:
        runner = load_runner(model_dir, device)
        runner.warm_up(1)
    except ArtifactError as exc:
        raise VerificationFailed(str(exc), exc.kind) from exc
    except Exception as exc:
        raise VerificationFailed(f"cannot load or run the model: {type(exc).__name__}: {exc}") from exc
    manifest = runner.manifest
    if expect_digest is not None and manifest.digest != expect_digest:
        raise VerificationFailed(
            f"digest mismatch: expected {expect_digest}, the artifact has {manifest.digest}"
        )
    return {
        "verified": True,
        "digest": manifest.digest,
        "format": manifest.format,
        "inputs": [spec.model_dump() for spec in manifest.inputs],
        "outputs": [spec.model_dump() for spec in manifest.outputs],
        "torchVersion": manifest.torch_version,
    }


def verify(
    *,
    model_dir: str | None,
    source: str | None,
    pvc_root: str,
    device: str = "auto",
    expect_digest: str | None = None,
) -> dict[str, Any]:
    if source is None:
        if model_dir is None:
            raise VerificationFailed("give --model-dir or --source")
        return verify_dir(Path(model_dir), device=device, expect_digest=expect_digest)
    with tempfile.TemporaryDirectory(prefix="lepton-verify-") as scratch:
        try:
            fetched = fetch(source, Path(model_dir) if model_dir else Path(scratch), pvc_root=pvc_root)
        except FetchError as exc:
            raise VerificationFailed(str(exc), exc.kind) from exc
        return verify_dir(fetched, device=device, expect_digest=expect_digest)


def run_verify(**kwargs: Any) -> int:
    """Verify, report on stdout/stderr and in the termination message; the exit code."""
    try:
        result = verify(**kwargs)
    except VerificationFailed as exc:
        print(f"verification failed: {exc}", file=sys.stderr)
        kind = {"kind": exc.kind} if exc.kind else {}
        write_termination_message({"verified": False, "reason": str(exc), **kind})
        return 1
    write_termination_message(result)
    print(f"verified: {result['format']} artifact {result['digest']}")
    return 0
