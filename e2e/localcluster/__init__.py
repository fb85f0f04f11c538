"""The local control plane for Lepton's tests, demo and benchmarks.

Standard library only: it must run before the project's virtualenv exists. Entry point:
``python3 -m localcluster up|down|status|kubeconfig|nodes`` with ``e2e/`` on ``PYTHONPATH``.
"""
