# The Helm chart, dist/install.yaml and the Argo CD health checks (included by the top Makefile;
# the suite runs the same tests: tests/unit/chart, tests/unit/argocd).

.PHONY: chart-check
chart-check: venv ## helm lint + render tests of charts/lepton, dist/install.yaml drift, Argo CD health checks (gopher-lua)
	$(PY) -m pytest -q tests/unit/chart tests/unit/argocd

.PHONY: dist
dist: venv ## re-render dist/install.yaml from charts/lepton and the synthetic Argo CD test objects (argocd/README.md)
	$(PY) charts/dist.py
	$(PY) argocd/testdata.py
