"""Lepton: a Kubernetes operator for distributed training and inference."""

__version__ = "0.1.0"

GROUP = "lepton.ai"
VERSION = "v1alpha1"
