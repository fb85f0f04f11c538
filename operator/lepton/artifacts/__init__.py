"""Model artifacts: the directory a training job writes and a model server loads.

An artifact is a directory holding ``manifest.json`` and one model file. The manifest names the
format, the file, its sha256 digest and the input/output tensor signature, so a server can check
what it loads before it serves it.
"""

from lepton.artifacts.digest import file_digest
from lepton.artifacts.errors import ArtifactError, ArtifactUnreadable
from lepton.artifacts.loader import LoadedModel, load_artifact
from lepton.artifacts.manifest import MANIFEST_FILE, ArtifactFormat, Manifest, TensorSpec
from lepton.artifacts.models import MLPClassifier
from lepton.artifacts.registry import architectures, register_architecture
from lepton.artifacts.writer import ArtifactInfo, save_artifact

__all__ = [
    "MANIFEST_FILE",
    "ArtifactError",
    "ArtifactFormat",
    "ArtifactInfo",
    "ArtifactUnreadable",
    "LoadedModel",
    "MLPClassifier",
    "Manifest",
    "TensorSpec",
    "architectures",
    "file_digest",
    "load_artifact",
    "register_architecture",
    "save_artifact",
]
