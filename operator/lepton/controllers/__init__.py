"""The controllers: one package per family (training: TrainingJob; serving: ModelVersion and
InferenceService), each with its kopf registration, its reconcile and its typed index views, over one
shared kit. See docs/architecture.md."""
