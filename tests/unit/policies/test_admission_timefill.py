"""Backfill bounded by run time (Slurm's backfill, #15): a gang whose activeDeadlineSeconds ends
before the held nodes of a reservation are bound to drain (every job there: its start + its
activeDeadlineSeconds) may take their free GPUs; it cannot delay the head, which starts by then at
the latest. Scenario rows on a fake clock, then passes over time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from queues_kit import NOW, QUEUES, RESERVES, WAITED, g

from lepton.policies.admission import Decision, Demand, Gang, decide
from lepton.policies.placement import Node, Placement


def node(i: int, free: int, until: float | None = None) -> Node:
    """a-<i>, 8 GPUs, ``free`` of them free; ``until``: seconds from NOW its jobs are bound to end."""
    return Node(f"a-{i}", 8, free, labels={"pool": "a"}, busy_until=None if until is None else NOW + until)


HEAD = g("ns/big", 2, created=1, waiting_since=WAITED)  # 2 x 8: a reservation, fits nowhere below
HEAD_WAITS = ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 0 fit now" + RESERVES)


@dataclass(frozen=True)
class Row:
    scenario: str
    nodes: list[Node]
    gangs: list[Gang]
    admitted: tuple[str, ...]
    waiting: dict[str, tuple[str, str]]
    held: tuple[str, ...]  # the nodes held for ns/big
    avoid: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lent: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    demand: list[Demand] = field(default_factory=list)


def excluded(note: str) -> str:
    return f" (the nodes held for ns/big excluded: {note})"


ROWS = [
    Row(
        "admitted onto a held node when its deadline ends before they drain",
        [node(0, 0, until=100), node(1, 4, until=60)],  # held: a-1 (drains first), a-0: by 100
        [HEAD, g("ns/fill", 1, 4, created=2, deadline=90)],
        ("ns/fill",),
        {"ns/big": HEAD_WAITS},
        ("a-1", "a-0"),
        lent={"ns/fill": ("ns/big",)},
    ),
    Row(
        "refused when its deadline ends after they drain",
        [node(0, 0, until=100), node(1, 4, until=60)],
        [HEAD, g("ns/fill", 1, 4, created=2, deadline=101)],
        (),
        {
            "ns/big": HEAD_WAITS,
            "ns/fill": (
                "WaitingForGPUs",
                "needs 1 pod x 4 GPUs; 0 fit now"
                + excluded("they drain within 100s, its activeDeadlineSeconds is 101s"),
            ),
        },
        ("a-1", "a-0"),
    ),
    Row(
        "refused when a held node runs a job without a deadline",
        [node(0, 0, until=None), node(1, 4, until=60)],
        [HEAD, g("ns/fill", 1, 4, created=2, deadline=10)],
        (),
        {
            "ns/big": HEAD_WAITS,
            "ns/fill": (
                "WaitingForGPUs",
                "needs 1 pod x 4 GPUs; 0 fit now"
                + excluded("a job without activeDeadlineSeconds runs there"),
            ),
        },
        ("a-1", "a-0"),
    ),
    Row(
        "without a deadline: refused, told nothing of drain times",
        [node(0, 0, until=100), node(1, 4, until=60)],
        [HEAD, g("ns/fill", 1, 4, created=2)],
        (),
        {
            "ns/big": HEAD_WAITS,
            "ns/fill": (
                "WaitingForGPUs",
                "needs 1 pod x 4 GPUs; 0 fit now (the nodes held for ns/big excluded)",
            ),
        },
        ("a-1", "a-0"),
    ),
    Row(
        "an idle held node lends its GPUs while the other is bound to drain later",
        [node(0, 8), node(1, 0, until=50), node(2, 0)],  # a-2 full, no bound: never held
        [HEAD, g("ns/fill", 1, 8, created=2, deadline=50)],
        ("ns/fill",),
        {"ns/big": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES)},
        ("a-0", "a-1"),
        lent={"ns/fill": ("ns/big",)},
    ),
    Row(
        "backfill that fits off the held nodes is admitted there and told to avoid them",
        [node(0, 0, until=100), node(1, 4, until=60), node(2, 4)],
        [HEAD, g("ns/off", 1, 4, created=2), g("ns/timed", 1, 4, created=3, deadline=30)],
        ("ns/off", "ns/timed"),
        {"ns/big": HEAD_WAITS},
        ("a-1", "a-0"),
        avoid={"ns/off": ("a-0", "a-1")},  # a-2 was free: ns/timed borrowed a-1's GPUs
        lent={"ns/timed": ("ns/big",)},
    ),
    Row(
        "an elastic job is admitted at the size the lent GPUs allow",
        [node(0, 0, until=100), node(1, 4, until=60), node(2, 4)],
        [HEAD, g("ns/elastic", 3, 4, created=2, min_pods=1, deadline=80)],
        ("ns/elastic",),
        {"ns/big": HEAD_WAITS},
        ("a-1", "a-0"),
        lent={"ns/elastic": ("ns/big",)},
        sizes={"ns/elastic": 2},  # a-2's 4 GPUs and a-1's lent 4
    ),
    Row(
        "the reservation takes the nodes bound to drain first, before fuller ones without a bound",
        [node(0, 4), node(1, 2, until=30), node(2, 0, until=20)],  # most free first: a-0, a-1
        [HEAD, g("ns/off", 1, 4, created=2)],
        ("ns/off",),
        {"ns/big": HEAD_WAITS},
        ("a-2", "a-1"),
        avoid={"ns/off": ("a-1", "a-2")},
    ),
    Row(
        "an admitted job's pods not bound yet count where admission places them, with its bound",
        [node(0, 0, until=100), node(1, 8)],
        [HEAD, g("ns/fill", 1, 4, created=2, deadline=90)],
        ("ns/fill",),
        {"ns/big": HEAD_WAITS},
        ("a-1", "a-0"),
        lent={"ns/fill": ("ns/big",)},
        demand=[Demand(1, 4, until=NOW + 95)],  # on a-1: a-1 drains by 95, a-0 by 100
    ),
    Row(
        "... and without a bound, nothing is lent",
        [node(0, 0, until=100), node(1, 8)],
        [HEAD, g("ns/fill", 1, 4, created=2, deadline=1)],
        (),
        {
            "ns/big": HEAD_WAITS,
            "ns/fill": (
                "WaitingForGPUs",
                "needs 1 pod x 4 GPUs; 0 fit now"
                + excluded("a job without activeDeadlineSeconds runs there"),
            ),
        },
        ("a-0", "a-1"),
        demand=[Demand(1, 4)],
    ),
]


def pass_of(row: Row) -> Decision:
    return decide(row.nodes, row.demand, row.gangs, queues=QUEUES, now=NOW)


@pytest.mark.parametrize("row", ROWS, ids=[r.scenario for r in ROWS])
def test_time_fill(row: Row) -> None:
    decision = pass_of(row)
    assert decision.admitted == row.admitted
    assert {k: (decision.reasons[k], decision.waiting[k]) for k in decision.waiting} == row.waiting
    assert decision.held_nodes == {"ns/big": row.held}
    assert decision.avoid == row.avoid
    assert decision.lent == row.lent
    assert decision.sizes == row.sizes


def test_a_node_held_for_two_reservations_is_lent_only_by_both():
    """a-1 is held for ns/big (by 100) and for ns/x (by 70): a job bound to end at 90 may not use
    its free GPUs, which ns/x could need by then."""
    cluster = [
        Node("a-0", 8, 0, labels={"pool": "a"}, busy_until=NOW + 100),
        Node("a-1", 8, 4, labels={"pool": "a", "x": "1"}, busy_until=NOW + 60),
        Node("a-2", 8, 0, labels={"x": "1"}, busy_until=NOW + 70),
    ]
    gangs = [
        g("ns/big", 2, created=1, waiting_since=WAITED, placement=Placement.of({"pool": "a"})),
        g("ns/x", 2, queue="other", created=2, waiting_since=WAITED, placement=Placement.of({"x": "1"})),
        g("ns/fill", 1, 4, created=3, deadline=90),
    ]
    decision = decide(cluster, [], gangs, queues=QUEUES, now=NOW)
    assert decision.held_nodes == {"ns/big": ("a-1", "a-0"), "ns/x": ("a-1", "a-2")}
    assert decision.admitted == ()
    assert decision.waiting["ns/fill"] == (
        "needs 1 pod x 4 GPUs; 0 fit now (the nodes held for ns/big, ns/x excluded: they drain within 70s,"
        " its activeDeadlineSeconds is 90s)"
    )
    fits_both = replace(gangs[2], deadline=70)
    assert decide(cluster, [], [*gangs[:2], fits_both], queues=QUEUES, now=NOW).lent == {
        "ns/fill": ("ns/big", "ns/x")
    }


@dataclass(frozen=True)
class Timeline:
    """Passes over time around a 2 x 8 head holding a reservation from t=0 on four 8-GPU nodes.
    ``running``: (node, GPUs, ends at, bound to end by) at t=0; ``arrivals``: one-pod jobs, (arrives
    at, GPUs, runs for, activeDeadlineSeconds), placed as kube-scheduler would: best fit on the nodes
    the pass did not tell them to avoid. A pass runs at every arrival and every end."""

    scenario: str
    running: tuple[tuple[str, int, float, float | None], ...]
    arrivals: tuple[tuple[float, int, float, float | None], ...]
    admitted_at: float  # when the head is admitted
    filled: int  # jobs admitted onto a held node before it


RUNNING = (("a-0", 8, 40.0, 45.0), ("a-1", 4, 20.0, 30.0), ("a-2", 4, 30.0, 35.0), ("a-3", 6, 90.0, 100.0))
TIMELINES = [
    Timeline("no arrivals: held a-1 and a-2, bound to drain by 35, free at 30", RUNNING, (), 30.0, 0),
    Timeline(
        "jobs bound to end before 35 fill the held nodes; the head is admitted when it was without them",
        RUNNING,
        ((1.0, 4, 20.0, 30.0), (5.0, 2, 100.0, 150.0), (10.0, 4, 10.0, 20.0), (12.0, 4, 5.0, None)),
        30.0,
        2,  # the 2-GPU one goes to a-3 (not held); the one without a deadline waits
    ),
    Timeline(
        "a job whose deadline ends after they drain waits, and cannot delay the head",
        RUNNING,
        ((1.0, 4, 20.0, 40.0),),
        30.0,
        0,
    ),
    Timeline(
        "filled nodes stay the first to drain: the head waits for no job admitted after it",
        (("a-0", 8, 40.0, 45.0), ("a-1", 8, 25.0, 30.0), ("a-2", 4, 10.0, 12.0), ("a-3", 8, 50.0, None)),
        ((0.0, 4, 11.0, 12.0), (2.0, 4, 20.0, 25.0), (12.0, 8, 10.0, 15.0), (13.0, 4, 10.0, 16.0)),
        25.0,  # held a-2 (by 12) and a-1 (by 30): admitted when a-1 frees at 25
        2,  # at 0 and 12 onto a-2; at 2 and 13 their deadlines would end after 30 once room is free
    ),
]


def play(case: Timeline) -> tuple[float, int, list[float]]:
    """When the head was admitted, how many jobs landed on a node held for it, and the bound its
    held nodes drained by at each pass."""
    running = [list(r) for r in case.running]
    waiting: list[tuple[Gang, float]] = []
    arrivals = list(case.arrivals)
    head = g("ns/big", 2, created=0, waiting_since=WAITED)
    bounds: list[float] = []
    filled = 0
    times = sorted({0.0, *(r[2] for r in running), *(a[0] for a in arrivals)})
    while times:
        now = times.pop(0)
        running = [r for r in running if r[2] > now]
        while arrivals and arrivals[0][0] <= now:
            at, gpus, runs, deadline = arrivals.pop(0)
            waiting.append((g(f"ns/j-{at:g}", 1, gpus, created=1 + at, deadline=deadline), runs))
        free = {f"a-{i}": 8 for i in range(4)}
        until: dict[str, float | None] = {}
        for name, gpus, _, bound in running:
            free[name] -= gpus
            before = until.get(name, NOW)
            until[name] = None if bound is None or before is None else max(before, NOW + bound)
        cluster = [
            Node(n, 8, left, labels={"pool": "a"}, busy_until=until.get(n)) for n, left in free.items()
        ]
        decision = decide(cluster, [], [head, *(w[0] for w in waiting)], queues=QUEUES, now=NOW + now)
        if head.key in decision.admitted:
            return now, filled, bounds
        held = decision.held_nodes[head.key]
        assert all(r[3] is not None for r in running if r[0] in held), "held a node without a bound"
        bounds.append(max(b for r in running if r[0] in held and (b := r[3]) is not None))
        for gang, runs in [w for w in waiting if w[0].key in decision.admitted]:
            off = decision.avoid.get(gang.key, ())
            gpus = gang.gpus_per_pod
            name = min((n for n in free if n not in off and free[n] >= gpus), key=lambda n: (free[n], n))
            assert decision.nodes[gang.key] == (name,), "admission placed it where the scheduler packs it"
            free[name] -= gpus
            running.append([name, gpus, now + runs, None if gang.deadline is None else now + gang.deadline])
            times = sorted({*times, now + runs})
            filled += name in held
        waiting = [w for w in waiting if w[0].key not in decision.admitted]
    raise AssertionError("the head was never admitted")


@pytest.mark.parametrize("case", TIMELINES, ids=[c.scenario for c in TIMELINES])
def test_time_fill_never_delays_the_head(case: Timeline) -> None:
    """The head is admitted by the bound its held nodes had when it first held them, and that bound
    never grows from one pass to the next: what fills them is gone before it."""
    admitted_at, filled, bounds = play(case)
    assert (admitted_at, filled) == (case.admitted_at, case.filled)
    assert bounds == sorted(bounds, reverse=True), bounds
    assert admitted_at <= bounds[0]
