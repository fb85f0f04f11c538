"""Helpers shared by the test suites: bounded waits, free ports, the local cluster's paths."""
