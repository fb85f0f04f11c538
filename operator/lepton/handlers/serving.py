"""kopf handlers of ModelVersion and InferenceService (registered by lepton.operator.run)."""
