"""What every controller needs once: a lock and the freshest body per object, the status write,
events sent after it, the check that a child's name is not taken, and kopf's errors at the edge."""
