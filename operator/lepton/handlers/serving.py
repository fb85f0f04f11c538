"""kopf handlers of ModelVersion and InferenceService (registered by lepton.operator.run).

Importing this module registers them: handlers.modelversion (verification Jobs, servedBy) and
handlers.inferenceservice (Deployments, the Service, rollover, status)."""

from lepton.handlers import inferenceservice, modelversion

__all__ = ["inferenceservice", "modelversion"]
