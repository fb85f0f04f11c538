"""Example trainers that ship with Lepton (run with ``python -m lepton.runtime.examples.<name>``)."""
