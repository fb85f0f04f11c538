"""The canary rollout state machine, as scenario tables on a fake clock with scripted checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rollout_kit import ERROR, FAIL, INCONCLUSIVE, PASS, SPEC, Sim, Tick, run

from lepton.policies.rollout_state import FailedRecord, Step

STARTED, STEP, PROMOTING, PROMOTED = "CanaryStarted", "CanaryStep", "CanaryPromoting", "CanaryPromoted"
FAILED, ROLLED_BACK = "AnalysisFailed", "RolledBack"

THROUGH_EVERY_STEP = [
    Tick(0, phase="Progressing", step=0, weights={"v1": 100}, replicas={"v1": 4, "v2": 1}, events=(STARTED,)),
    # The step's weight and pause clock start when its replicas are Ready.
    Tick(10, ready={"v2": 1}, weights={"v1": 80, "v2": 20}, events=(STEP,), progressing=STEP),
    Tick(40, check=PASS, step=0, events=()),  # passing, but the pause runs until 70
    Tick(70, check=PASS, step=1, weights={"v1": 80, "v2": 20}, replicas={"v1": 4, "v2": 2}, events=()),
    Tick(75, ready={"v2": 2}, weights={"v1": 50, "v2": 50}, events=(STEP,)),
    Tick(100, check=PASS, step=1),
    Tick(130, check=PASS, step=1),
    Tick(
        135,
        phase="Promoting",
        step=2,
        replicas={"v1": 4, "v2": 4},
        weights={"v1": 50, "v2": 50},
        events=(PROMOTING,),
    ),
    Tick(140, ready={"v2": 4}, phase="Promoting", weights={"v2": 100}, events=()),
    # Make before break: the stable version goes once the route is seen carrying the new one.
    Tick(
        141,
        route={"v2": 100},
        phase="none",
        stable="v2",
        replicas={"v2": 4},
        weights={"v2": 100},
        events=(PROMOTED,),
    ),
]

FAIL_ROLLS_BACK = [
    Tick(0, events=(STARTED,)),
    Tick(10, ready={"v2": 1}, weights={"v1": 80, "v2": 20}),
    Tick(40, check=FAIL, phase="Progressing", events=(FAILED,)),
    # failureLimit 2: weight 0 at the failing check; the replicas stay for the scale-down delay.
    Tick(
        70,
        check=FAIL,
        phase="RolledBack",
        weights={"v1": 100},
        replicas={"v1": 4, "v2": 1},
        events=(FAILED, ROLLED_BACK),
        blocked=("v2",),
        progressing=ROLLED_BACK,
    ),
    Tick(99, replicas={"v1": 4, "v2": 1}, events=()),
    Tick(100, replicas={"v1": 4, "v2": 0}, phase="RolledBack", events=()),
    Tick(500, check=PASS, phase="RolledBack", weights={"v1": 100}, events=()),
    # A newer version is rolled out; the failed one stays remembered.
    Tick(
        600,
        target="v3",
        phase="Progressing",
        events=(STARTED,),
        replicas={"v1": 4, "v2": 0, "v3": 1},
        blocked=("v2",),
    ),
]

INCONCLUSIVE_WAITS = [
    Tick(0),
    Tick(10, ready={"v2": 1}),
    Tick(40, check=INCONCLUSIVE, step=0),
    Tick(70, check=INCONCLUSIVE, step=0, phase="Progressing", events=()),  # pause over, no pass: waits
    Tick(100, check=INCONCLUSIVE, step=0),
    Tick(130, check=PASS, step=1, events=()),
]

ERRORS_HOLD = [
    Tick(0),
    Tick(10, ready={"v2": 1}),
    Tick(40, check=ERROR, phase="Progressing", events=()),
    Tick(70, check=ERROR, phase="Progressing", step=0),
    Tick(
        100,
        check=ERROR,
        phase="Holding",
        step=0,
        weights={"v1": 80, "v2": 20},
        events=("AnalysisErrors",),
        progressing="AnalysisErrors",
    ),
    *[Tick(130 + 30 * i, check=ERROR, phase="Holding", step=0, events=()) for i in range(8)],
    # Errors never roll back nor promote; the first answer resumes the rollout.
    Tick(400, check=PASS, phase="Progressing", step=1, events=("AnalysisRecovered",)),
]

NO_TRAFFIC_HOLDS_AT_THE_DEADLINE = [
    Tick(0),
    Tick(10, ready={"v2": 1}),
    *[Tick(40 + 30 * i, check=INCONCLUSIVE, phase="Progressing", step=0) for i in range(11)],
    # The pause ended at 70; 300 s later without a pass the rollout holds and says so once.
    Tick(
        371,
        phase="Holding",
        step=0,
        events=("ProgressDeadlineExceeded",),
        progressing="ProgressDeadlineExceeded",
    ),
    Tick(400, check=INCONCLUSIVE, phase="Holding", events=()),
    Tick(430, check=PASS, phase="Progressing", step=1, events=()),
]

NOT_READY_HOLDS = [
    Tick(0, events=(STARTED,)),
    Tick(300, phase="Progressing", weights={"v1": 100}),
    Tick(301, phase="Holding", weights={"v1": 100}, events=("ProgressDeadlineExceeded",)),
]

NEW_VERSION_MID_ROLLOUT = [
    Tick(0),
    Tick(10, ready={"v2": 1}),
    Tick(40, check=PASS),
    Tick(70, check=PASS, step=1),
    Tick(
        80,
        target="v3",
        phase="Progressing",
        step=0,
        weights={"v1": 100},
        replicas={"v1": 4, "v2": 0, "v3": 1},
        events=("CanaryRestarted",),
    ),
    # A check of v2 that was due does not count for v3: its analysis starts with its first step.
    Tick(100, check=PASS, step=0, weights={"v1": 100}),
    Tick(110, ready={"v3": 1}, weights={"v1": 80, "v3": 20}, events=(STEP,)),
]

PROMOTE_BY_HAND = [
    Tick(0),
    Tick(10, ready={"v2": 1}),
    Tick(20, annotations={"lepton.ai/promote": "v1"}, step=0, events=()),  # another version: ignored
    Tick(
        30,
        annotations={"lepton.ai/promote": "v2"},
        phase="Promoting",
        replicas={"v1": 4, "v2": 4},
        events=(PROMOTING,),
    ),
    Tick(40, ready={"v2": 4}, weights={"v2": 100}),
    Tick(41, route={"v2": 100}, stable="v2", phase="none", events=(PROMOTED,)),
    # Left in git, the annotation does nothing more.
    Tick(50, phase="none", events=(), stable="v2"),
]

ABORT_AND_RETRY = [
    Tick(0),
    Tick(10, ready={"v2": 1}),
    Tick(
        20,
        annotations={"lepton.ai/abort": "v2"},
        phase="Aborted",
        weights={"v1": 100},
        events=("RolloutAborted",),
        blocked=("v2",),
        progressing="RolloutAborted",
    ),
    Tick(60, ready={"v2": 0}, replicas={"v1": 4, "v2": 0}, events=()),
    # The abort left in place does not stop a retry; retry 1 acts once.
    Tick(
        70,
        annotations={"lepton.ai/abort": "v2", "lepton.ai/retry": "v2"},
        phase="Progressing",
        events=("RolloutRetried", STARTED),
        blocked=(),
    ),
    Tick(80, ready={"v2": 1}, weights={"v1": 80, "v2": 20}, events=(STEP,)),
    Tick(110, check=FAIL),
    Tick(140, check=FAIL, phase="RolledBack", blocked=("v2",)),
    Tick(
        200, ready={"v2": 0}, phase="RolledBack", events=()
    ),  # retry 1 was made: the annotation does not act again
    Tick(
        210, annotations={"lepton.ai/retry": "v2:2"}, phase="Progressing", events=("RolloutRetried", STARTED)
    ),
    Tick(220, annotations={"lepton.ai/retry": "v2:2", "lepton.ai/abort": "v2:2"}, phase="Aborted"),
]

PAUSE_UNTIL_PROMOTED = [
    Tick(0),
    Tick(10, ready={"v2": 1}),
    Tick(40, check=PASS),
    Tick(70, check=PASS, step=1),
    Tick(75, ready={"v2": 2}, phase="Paused", events=(STEP, "RolloutPaused"), progressing="RolloutPaused"),
    *[Tick(100 + 30 * i, check=PASS, phase="Paused", step=1, events=()) for i in range(12)],  # no deadline
    Tick(500, annotations={"lepton.ai/promote": "v2:1"}, phase="Promoting", step=2, events=(PROMOTING,)),
]

WEIGHT_ONLY_WITH_READY_REPLICAS = [
    Tick(0),
    Tick(5, ready={"v2": 0}, weights={"v1": 100}),
    Tick(10, ready={"v2": 1}, weights={"v1": 80, "v2": 20}),
    Tick(20, ready={"v2": 0}, weights={"v1": 100}, phase="Progressing"),  # its pod went unready
    Tick(30, ready={"v2": 1, "v1": 0}, weights={"v2": 100}),  # only the new version can answer
]


@pytest.mark.parametrize(
    ("spec", "ticks"),
    [
        pytest.param(SPEC, THROUGH_EVERY_STEP, id="pass through every step, promoted after the route moved"),
        pytest.param(
            SPEC, FAIL_ROLLS_BACK, id="failureLimit failed checks roll back at once, scale down later"
        ),
        pytest.param(SPEC, INCONCLUSIVE_WAITS, id="inconclusive checks count neither way and the step waits"),
        pytest.param(SPEC, ERRORS_HOLD, id="query errors hold past consecutiveErrorLimit, never roll back"),
        pytest.param(
            SPEC, NO_TRAFFIC_HOLDS_AT_THE_DEADLINE, id="a canary without traffic holds, never promotes"
        ),
        pytest.param(SPEC, NOT_READY_HOLDS, id="replicas never Ready: held at the deadline"),
        pytest.param(SPEC, NEW_VERSION_MID_ROLLOUT, id="a newer version mid-rollout restarts the analysis"),
        pytest.param(SPEC, PROMOTE_BY_HAND, id="promote annotation of that version promotes fully, once"),
        pytest.param(SPEC, ABORT_AND_RETRY, id="abort, then retries that act once each"),
        pytest.param(
            replace(SPEC, steps=(Step(20, 60), Step(50, None))),
            PAUSE_UNTIL_PROMOTED,
            id="until promoted: paused",
        ),
        pytest.param(SPEC, WEIGHT_ONLY_WITH_READY_REPLICAS, id="weight only while Ready replicas"),
    ],
)
def test_rollout_scenario(spec, ticks):
    run(Sim(spec=spec), ticks)


def test_deadline_with_abort_rolls_back_but_errors_still_only_hold():
    spec = replace(SPEC, deadline_abort=True, consecutive_error_limit=100)
    run(Sim(spec=spec), [Tick(0), Tick(301, phase="RolledBack", events=(ROLLED_BACK,), blocked=("v2",))])
    erring = [Tick(0), Tick(10, ready={"v2": 1}), *[Tick(40 + 30 * i, check=ERROR) for i in range(12)]]
    run(Sim(spec=spec), [*erring, Tick(400, phase="Holding", progressing="ProgressDeadlineExceeded")])


def test_a_failed_version_is_not_rolled_out_again_by_latest():
    failed = (FailedRecord("v2", "AnalysisFailed", 0.0, "errorRate 0.4"),)
    ticks = [
        Tick(0, phase="none", weights={"v1": 100}, replicas={"v1": 4}, progressing="FailedVersionSkipped"),
        Tick(10, target="v3", phase="Progressing", events=(STARTED,)),
    ]
    run(Sim(failed=failed), ticks)


def test_the_serving_version_as_target_cancels_the_rollout():
    ticks = [
        Tick(0),
        Tick(10, ready={"v2": 1}),
        Tick(20, target="v1", phase="none", replicas={"v1": 4, "v2": 0}, events=("RolloutCancelled",)),
    ]
    run(Sim(), ticks)


def test_first_deploy_has_no_rollout():
    run(
        Sim(stable=None),
        [Tick(0, phase="none", stable="v2", weights={"v2": 100}, replicas={"v2": 4}, events=())],
    )


RATIO = replace(SPEC, gateway=False)


def test_without_gateway_the_stable_version_shrinks_only_as_the_new_one_is_ready():
    ticks = [
        Tick(0, replicas={"v1": 4, "v2": 1}, weights={"v1": 100}),
        Tick(10, ready={"v2": 1}, replicas={"v1": 3, "v2": 1}, weights={"v1": 80, "v2": 20}, events=(STEP,)),
        Tick(11, ready={"v1": 3}, weights={"v1": 75, "v2": 25}),
        Tick(40, check=PASS),
        Tick(70, check=PASS, step=1, replicas={"v1": 3, "v2": 2}),
        Tick(75, ready={"v2": 2}, replicas={"v1": 2, "v2": 2}, events=(STEP,)),
        Tick(76, ready={"v1": 2}, weights={"v1": 50, "v2": 50}),
        Tick(100, check=PASS),
        Tick(135, check=PASS, phase="Promoting", replicas={"v1": 2, "v2": 4}),
        Tick(140, ready={"v2": 4}, phase="none", stable="v2", replicas={"v2": 4}, events=(PROMOTED,)),
    ]
    sim = Sim(spec=RATIO)
    run(sim, ticks[:3])
    assert sim.last is not None
    assert sim.last.state is not None
    assert (
        sim.last.state.replica_split == "asked 20 %, the nearest the replicas allow is 25 % (1 of 4 replicas)"
    )
    run(sim, ticks[3:])


def test_without_gateway_a_rollback_removes_the_new_pods_at_once():
    ticks = [
        Tick(0),
        Tick(10, ready={"v2": 1}),
        Tick(40, check=FAIL),
        Tick(70, check=FAIL, phase="RolledBack", replicas={"v1": 4, "v2": 0}),
    ]
    run(Sim(spec=RATIO), ticks)


def test_shadow_step_mirrors_to_the_new_version():
    spec = replace(SPEC, steps=(Step(0, 60), Step(50, 60)), mirror_percent=25)
    ticks = [
        Tick(0, replicas={"v1": 4, "v2": 1}, mirror=None),
        Tick(10, ready={"v2": 1}, weights={"v1": 100}, mirror=("v2", 25), events=(STEP,)),
        Tick(40, check=PASS),
        Tick(70, check=PASS, step=1, mirror=("v2", 25)),
    ]
    run(Sim(spec=spec), ticks)


def test_requeue_and_analysis_times():
    sim = Sim()
    run(sim, [Tick(0), Tick(10, ready={"v2": 1})])
    d = sim.last
    assert d is not None
    assert d.analyze_at is not None
    assert d.analyze_at - d.state.step_start_time == 30  # type: ignore[union-attr]
    assert d.requeue_after == 30
