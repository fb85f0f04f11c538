"""The activator (``lepton-activator``): the request path of an InferenceService at zero replicas.

While a service has no ready replica its Service sends traffic here. The activator holds requests
in a bounded queue, asks the operator for a replica at once, forwards every held request when the
backend answers ready, and answers 503 with Retry-After when the queue is full or a request waited
too long. See docs/activator.md.

Modules, pure first:

- ``core``: the decisions (admit, hold, time out, when to ask, when to poll), time passed in;
  ``headers``: which headers a proxy passes on; ``metrics``: the Prometheus metric names.
- ``control``: the readiness poller and activation calls around the core; ``proxy``: the aiohttp
  application (hold, forward, 503); ``server``: lifecycle (drain on SIGTERM); ``cli``: the command.
"""
