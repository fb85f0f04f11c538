"""The three Lepton kinds as the command line names them (`tj/NAME`, `mv`, `lisvc`...).

Plain strings, no pydantic: `lepton get` must start fast (tests check they match lepton.api).
"""

from __future__ import annotations

from dataclasses import dataclass

from lepton import GROUP, VERSION
from lepton.client.errors import UsageError

API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    singular: str
    short: str
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.plural, self.singular, self.short, self.kind.lower(), *self.aliases)

    def path(self, namespace: str | None, name: str = "") -> str:
        """The object's path, or its collection's (of every namespace when ``namespace`` is None)."""
        scope = f"/namespaces/{namespace}" if namespace is not None else ""
        base = f"/apis/{API_VERSION}{scope}/{self.plural}"
        return f"{base}/{name}" if name else base


TRAINING_JOB = Kind("TrainingJob", "trainingjobs", "trainingjob", "tj")
MODEL_VERSION = Kind("ModelVersion", "modelversions", "modelversion", "mv")
# KServe owns `isvc` on clusters that run both; Lepton's short name is `lisvc`, `isvc` is accepted here.
INFERENCE_SERVICE = Kind("InferenceService", "inferenceservices", "inferenceservice", "lisvc", ("isvc",))
KINDS = (TRAINING_JOB, MODEL_VERSION, INFERENCE_SERVICE)


def kind_named(word: str) -> Kind:
    for kind in KINDS:
        if word.lower() in kind.names():
            return kind
    known = ", ".join(k.short for k in KINDS)
    raise UsageError(f"unknown kind {word!r}", f"use one of {known} (or their plural names)")


def parse_ref(ref: str, default: Kind | None = None) -> tuple[Kind, str]:
    """`tj/NAME` -> (TrainingJob, NAME); a bare NAME takes ``default``."""
    if "/" in ref:
        word, _, name = ref.partition("/")
        kind = kind_named(word)
    elif default is not None:
        kind, name = default, ref
    else:
        raise UsageError(f"{ref!r} names no kind", "write KIND/NAME, e.g. tj/mnist or lisvc/mnist")
    if not name:
        raise UsageError(f"{ref!r} names no object", "write KIND/NAME, e.g. tj/mnist")
    if default is not None and kind != default:
        raise UsageError(f"{ref!r} is a {kind.kind}, this command takes a {default.kind}")
    return kind, name
