"""The pieces the rollout state machine stands on: the verdict of one check, the replica-ratio split,
the manual-control annotations."""

from __future__ import annotations

import math

import pytest

from lepton.api.rollout import AnalysisResult
from lepton.policies.metric_result import Empty, Error, NotFinite, Value
from lepton.policies.rollout_actions import Target, actions_from
from lepton.policies.rollout_analysis import Check, verdict
from lepton.policies.traffic_split import ratio_split, replicas_for_share, stable_replicas_during_ratio

P, F, INC, E = (AnalysisResult.PASS, AnalysisResult.FAIL, AnalysisResult.INCONCLUSIVE, AnalysisResult.ERROR)
RATE_OK = Check("errorRate", Value(0.01), max=0.05)
RATE_BAD = Check("errorRate", Value(0.2), max=0.05)
P95_OK = Check("latencyP95Ms", Value(80.0), max=100)

VERDICTS = [
    ("all within thresholds", Value(50), [RATE_OK, P95_OK], P),
    ("error rate above max", Value(50), [RATE_BAD, P95_OK], F),
    ("fewer than minRequests outweighs a failure", Value(9), [RATE_BAD], INC),
    ("no series for the request count is zero requests", Empty(), [RATE_OK], INC),
    ("the request count could not be read", Error("timeout"), [RATE_OK], E),
    ("a failing metric wins over an erroring one", Value(50), [RATE_BAD, Check("p", Error("x"), max=1)], F),
    ("an erroring metric is never a pass", Value(50), [RATE_OK, Check("p", Error("bad_data"), max=1)], E),
    ("NaN is no data", Value(50), [RATE_OK, Check("p", NotFinite("NaN"), max=1)], INC),
    ("no series is no data, never a pass", Value(50), [RATE_OK, Check("p", Empty(), max=1)], INC),
    ("+Inf is above any maximum", Value(50), [RATE_OK, Check("p", NotFinite("+Inf"), max=1e9)], F),
    ("a minimum", Value(50), [Check("accuracy", Value(0.7), min=0.8)], F),
    ("a band, inclusive", Value(50), [Check("accuracy", Value(0.8), min=0.8, max=0.9)], P),
]


@pytest.mark.parametrize(
    ("requests", "checks", "expected"), [v[1:] for v in VERDICTS], ids=[v[0] for v in VERDICTS]
)
def test_verdict(requests, checks, expected):
    assert verdict(requests, checks, min_requests=10).result is expected


def test_verdict_keeps_the_values_and_names_what_failed():
    v = verdict(Value(50), [RATE_BAD, P95_OK], min_requests=10)
    assert v.requests == 50
    assert [(m.name, m.result, m.value) for m in v.metrics] == [
        ("errorRate", F, 0.2),
        ("latencyP95Ms", P, 80.0),
    ]
    assert v.message == "Fail: 50 requests; errorRate 0.2 (must be <= 0.05)"
    inf = verdict(Value(50), [Check("p", NotFinite("+Inf"), max=1)], 10).metrics[0]
    assert inf.value is None
    assert math.isinf(float(inf.message.split()[1]))


SPLITS = [
    # total, percent -> candidate, stable, effective %
    (4, 20, 1, 3, 25),
    (10, 20, 2, 8, 20),
    (5, 50, 3, 2, 60),
    (1, 20, 1, 1, 50),  # one replica: 1 + 1, the only split that shows both
    (4, 90, 3, 1, 75),
    (4, 100, 4, 0, 100),
    (4, 0, 0, 4, 0),
]


@pytest.mark.parametrize(("total", "percent", "candidate", "stable", "effective"), SPLITS)
def test_ratio_split_is_the_nearest_the_replicas_allow(total, percent, candidate, stable, effective):
    split = ratio_split(total, percent)
    assert (split.candidate, split.stable, split.weight) == (candidate, stable, effective)


def test_stable_replicas_give_way_only_to_ready_new_replicas():
    split = ratio_split(10, 50)
    assert [stable_replicas_during_ratio(split, 10, ready) for ready in (0, 2, 5, 7)] == [10, 8, 5, 5]


def test_replicas_for_share_rounds_up_and_keeps_one():
    assert [replicas_for_share(4, w) for w in (0, 1, 20, 50, 100)] == [0, 1, 1, 2, 4]


def test_annotations_parse_to_version_scoped_actions():
    actions = actions_from({"lepton.ai/promote": "v2:1", "lepton.ai/abort": "v3", "lepton.ai/retry": "v4:2"})
    assert (actions.promote, actions.abort, actions.retry) == (Target("v2", 1), Target("v3"), Target("v4", 2))
    assert (actions.abort_retry, actions.retry_count) == (0, 2)
    assert actions_from({"lepton.ai/retry": "v4"}).retry_count == 1
    bad = actions_from({"lepton.ai/promote": "V2!", "lepton.ai/retry": "v2:0", "other": "x"})
    assert (bad.promote, bad.retry) == (None, None)
    assert len(bad.invalid) == 2
    assert "lepton.ai/promote" in bad.invalid[0]
    assert actions_from(None) == actions_from({})
