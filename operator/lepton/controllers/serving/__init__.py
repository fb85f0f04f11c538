"""The serving controllers, ModelVersion and InferenceService: indices (what they watch, shared by
both), handlers (kopf registration), one reconcile per kind, and context (what they keep in the
process). The model server itself, which runs in the pods, is lepton.serving."""
