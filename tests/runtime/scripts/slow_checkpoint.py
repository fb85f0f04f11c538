"""A trainer whose checkpoint takes a while: after SIGTERM it works ``argv[1]`` seconds (think of
serialising and uploading a large model's state), then writes the checkpoint and exits 143.

It resumes from the newest checkpoint, says at which step, and takes steps up to ``argv[2]``.
"""

import sys
import time

from lepton.runtime import (
    PREEMPTED_EXIT_CODE,
    init_process_group,
    install_sigterm_handler,
    load_latest_checkpoint,
    save_checkpoint,
    stop_requested,
)

work_seconds, last_step = float(sys.argv[1]), int(sys.argv[2])
init_process_group()
install_sigterm_handler()
found = load_latest_checkpoint()
step = int(found.state["step"]) if found is not None else 0
print(f"resumed at step {step}" if found is not None else "starting at step 0", flush=True)
while step < last_step:
    step += 1
    time.sleep(0.05)  # one training step
    if stop_requested():
        print(f"SIGTERM at step {step}: checkpointing, {work_seconds:g} s of work", flush=True)
        time.sleep(work_seconds)  # the checkpoint's work; the agent must not SIGKILL it meanwhile
        save_checkpoint({"step": step}, epoch=step)
        print(f"checkpointed step {step}", flush=True)
        sys.exit(PREEMPTED_EXIT_CODE)
print(f"finished at step {step}", flush=True)
