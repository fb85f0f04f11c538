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

# Traefik (the Gateway of the rollout e2e) builds for 12-32 min cold: when it is not in the cache, its
# build starts in the background (`make check`: before lint and the suite; `make test-e2e`: before the
# images), so it overlaps them; the e2e fixture's own call
# to e2e/build-traefik.sh waits on the build's lock, then finds the binary (or builds, on failure).
.PHONY: traefik-detached
traefik-detached:
	@bin=$$(e2e/build-traefik.sh --print); [[ -x "$$bin" ]] || { mkdir -p "$$(dirname "$$bin")" && \
	  setsid nohup e2e/build-traefik.sh >"$$(dirname "$$bin")/build.log" 2>&1 </dev/null & \
	  echo ">> building Traefik in the background (log: $$(dirname "$$bin")/build.log)"; }

.PHONY: test-e2e
test-e2e: venv traefik-detached images ## end-to-end tests on a real node (builds the images; starts or extends the cluster)
	$(PY) -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

.PHONY: demo
demo: ## the main job for real: set-up, cluster + real node, images, operator, train -> verify -> serve -> answer
	@$(HOSTPREP) preflight $(if $(filter 1,$(IN_CLUSTER)),demo-in-cluster,demo)
	@$(MAKE) -s setup
	@PYTHONPATH=e2e:$$PYTHONPATH $(PY) -m realnode.demo

.PHONY: demo-down
demo-down: ## stop what make demo started (operator, cluster with its real node)
	@PYTHONPATH=e2e python3 -m realnode.demo down
