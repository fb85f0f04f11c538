"""The TrainingJob controller: indices (what it watches), handlers (kopf registration), reconcile
(observe -> decide -> act -> one status write -> events), queue (admission across jobs) and context
(what it keeps in the process)."""
