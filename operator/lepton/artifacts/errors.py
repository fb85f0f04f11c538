"""The one error type artifact readers and writers raise."""


class ArtifactError(Exception):
    """An artifact is missing, corrupt, or in a format or architecture this process cannot load."""
