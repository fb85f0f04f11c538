"""A user script with a bug."""

raise RuntimeError("a bug in the user's training script")
