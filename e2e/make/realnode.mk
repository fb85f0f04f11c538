# Real nodes, images and the end-to-end demo (included by the top Makefile).
REAL_NODES ?= 0
IN_CLUSTER ?= 0
export REAL_NODES IN_CLUSTER

.PHONY: images
images: ## build the operator, trainer and server images (buildah), import them into running real nodes
	@out=$$(e2e/images/build.sh operator trainer server) && echo "$$out" && \
	if [[ -n "$$(PYTHONPATH=e2e python3 -m realnode nodes)" ]]; then \
	  PYTHONPATH=e2e python3 -m realnode import $$(echo "$$out" | head -n1 | cut -d' ' -f2) \
	    $$(echo "$$out" | cut -d' ' -f3); fi

.PHONY: test-e2e
test-e2e: venv images ## end-to-end tests on a real node (builds the images; starts or extends the cluster)
	$(PY) -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

.PHONY: demo
demo: ## the main job for real: set-up, cluster + real node, images, operator, train -> verify -> serve -> answer
	@$(HOSTPREP) preflight $(if $(filter 1,$(IN_CLUSTER)),demo-in-cluster,demo)
	@$(MAKE) -s setup
	@PYTHONPATH=e2e:$$PYTHONPATH $(PY) -m realnode.demo

.PHONY: demo-down
demo-down: ## stop what make demo started (operator, cluster with its real node)
	@PYTHONPATH=e2e python3 -m realnode.demo down
