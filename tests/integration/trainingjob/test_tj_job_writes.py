"""What the operator writes into a TrainingJob besides its status: nothing. Its loops are its own
tasks, not kopf daemons (which need kopf's finalizer on every job), and it reacts to the job's
events without kopf's create/update handlers (which write a last-handled-configuration annotation):
each was a PATCH per job at admission. A job deleted and made again under the same name runs. A job
an earlier release put its finalizer on loses it, so deleting it after an upgrade does not hang."""

from __future__ import annotations

import pytest
from tjkit import Jobs, manifest

from lepton.settings import Settings
from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def test_tj_no_finalizer_no_annotation_and_a_new_job_under_the_same_name_runs(jobs):
    jobs.create(manifest("plain", replicas=2, gpus=1))
    wait_for(lambda: jobs.phase("plain") == "Running", 60, "Running", seen=lambda: jobs.status("plain"))
    meta = jobs.get("plain")["metadata"]
    assert not meta.get("finalizers"), f"the operator put finalizers on the job: {meta.get('finalizers')}"
    assert not meta.get("annotations"), f"the operator annotated the job: {meta.get('annotations')}"

    first_uid = meta["uid"]
    jobs.delete("plain")
    # No finalizer to remove: the API server deletes it at once; garbage collection takes its pods.
    wait_for(lambda: not jobs.exists("plain") and jobs.pods("plain") == [], 60, "the job and its pods gone")
    # The new job's pods must come from loops started for it, not from the deleted job's.
    jobs.create(manifest("plain", replicas=2, gpus=1))
    wait_for(
        lambda: (
            jobs.phase("plain") == "Running"
            and jobs.get("plain")["metadata"]["uid"] != first_uid
            and {p.metadata.owner_references[0].uid for p in jobs.live_pods("plain")}
            == {jobs.get("plain")["metadata"]["uid"]}
            and len(jobs.live_pods("plain")) == 2
        ),
        90,
        "the new job Running with its own 2 pods",
        seen=lambda: (
            jobs.status("plain"),
            [(p.metadata.name, p.metadata.owner_references) for p in jobs.live_pods("plain")],
        ),
    )
    # A change of the spec reaches the reconcile without kopf's update handler.
    jobs.patch_spec("plain", {"runPolicy": {"suspend": True}})
    wait_for(
        lambda: jobs.live_pods("plain") == [],
        60,
        "the suspended job's pods gone",
        seen=lambda: jobs.status("plain"),
    )


def test_tj_the_finalizer_an_earlier_release_put_on_a_job_is_removed_so_it_can_be_deleted(jobs):
    # Releases that ran TrainingJob loops as kopf daemons put kopf's finalizer on every job; after
    # an upgrade nothing needs it, and a job still carrying it would hang in Terminating forever.
    finalizer = Settings().finalizer
    body = manifest("upgraded", replicas=1, gpus=1)
    body["metadata"]["finalizers"] = [finalizer]
    jobs.create(body)
    wait_for(
        lambda: not jobs.get("upgraded")["metadata"].get("finalizers"),
        60,
        f"the operator to remove {finalizer}",
        seen=lambda: jobs.get("upgraded")["metadata"].get("finalizers"),
    )
    wait_for(lambda: jobs.phase("upgraded") == "Running", 60, "Running", seen=lambda: jobs.status("upgraded"))
    jobs.delete("upgraded")
    wait_for(
        lambda: not jobs.exists("upgraded"),
        30,
        "the job deleted",
        seen=lambda: jobs.get("upgraded")["metadata"],
    )
