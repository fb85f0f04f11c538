"""A worker killed by a signal (say, the kernel's OOM killer)."""

import os
import signal

os.kill(os.getpid(), signal.SIGKILL)
