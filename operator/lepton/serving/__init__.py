"""The model server (``lepton-serve``): Open Inference Protocol v2 over HTTP for one model artifact.

Modules, transport-independent first:

- ``protocol``: OIP v2 wire models (pydantic); ``codec``: tensors <-> JSON data and the binary
  tensor data extension; ``errors``: the error hierarchy and its one HTTP status table.
- ``model``: loading an artifact (digest check), warm-up, one-batch runs on CPU or GPU;
  ``batching``: the dynamic batcher; ``dataplane``: served models, validation, readiness.
- ``rest``: the aiohttp application (decode, call the data plane, encode); ``metrics``: the
  Prometheus metric names; ``server``: lifecycle (load in background, drain on SIGTERM).
- ``cli``: the ``lepton-serve`` command; ``verify``: ``--verify`` for ModelVersion checks;
  ``fetch``: the init container that copies an artifact in; ``termination``: the pod's
  termination message.
"""
