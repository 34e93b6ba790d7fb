"""sentilstm.system.threads: the CPUs a process may use, what others are using, and the governor that picks torch's
threads.

The governor is driven with a fake clock and a fake machine whose speed per thread count the test sets, so its
decisions are checked exactly; no test measures real time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from sentilstm.system import threads
from sentilstm.system.threads import CpuBudget, ThreadGovernor, cgroup_quota, cpu_budget, others_busy, starting_threads


@pytest.fixture
def unfixed(monkeypatch: pytest.MonkeyPatch):
    """Undo the session's `fix_threads(1)` (conftest) for one test; torch's thread count is restored after it."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_fixed", None)
    monkeypatch.setattr(threads, "_shared", None)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# ----- the CPU budget -------------------------------------------------------------------------------------------
def test_cgroup_v2_quota_is_the_tightest_on_the_path(tmp_path: Path) -> None:
    write(tmp_path, "proc/self/cgroup", "0::/system.slice/job.scope\n")
    write(tmp_path, "sys/fs/cgroup/cpu.max", "max 100000\n")
    write(tmp_path, "sys/fs/cgroup/system.slice/cpu.max", "300000 100000\n")
    write(tmp_path, "sys/fs/cgroup/system.slice/job.scope/cpu.max", "150000 100000\n")
    assert cgroup_quota(tmp_path) == pytest.approx(1.5)
    write(tmp_path, "sys/fs/cgroup/system.slice/cpu.max", "50000 100000\n")  # the parent is tighter
    assert cgroup_quota(tmp_path) == pytest.approx(0.5)


def test_cgroup_v1_quota_and_no_quota(tmp_path: Path) -> None:
    write(tmp_path, "proc/self/cgroup", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert cgroup_quota(tmp_path) == pytest.approx(2.0)
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n")
    assert cgroup_quota(tmp_path) is None
    assert cgroup_quota(tmp_path / "nothing-here") is None


def test_usable_cpus_are_the_affinity_capped_by_the_quota_rounded_up() -> None:
    assert CpuBudget(8, None).usable == 8
    assert CpuBudget(8, 1.5).usable == 2
    assert CpuBudget(8, 0.2).usable == 1
    assert CpuBudget(2, 4.0).usable == 2
    assert "2 usable" in CpuBudget(8, 1.5).describe() and "quota 1.5" in CpuBudget(8, 1.5).describe()
    assert 1 <= cpu_budget().usable <= (torch.get_num_threads() or 1) * 1000  # the real machine's, readable


def test_others_busy_counts_other_work_and_not_our_own(tmp_path: Path) -> None:
    # /proc/stat: user nice system idle iowait irq softirq steal; this process's utime/stime are fields 14 and 15
    states = iter(
        [
            ("cpu  1000 0 0 9000 0 0 0 0 0 0", "1 (py (x)) S " + "0 " * 10 + "100 20 0"),
            ("cpu  1150 0 0 9040 0 0 0 10 0 0", "1 (py (x)) S " + "0 " * 10 + "130 20 0"),
        ]
    )

    def step(seconds: float = 0.0) -> None:
        stat, own = next(states)
        write(tmp_path, "proc/stat", stat + "\ncpu0 ...\n")
        write(tmp_path, "proc/self/stat", own)

    step()
    busy = others_busy(root=tmp_path, sleep=step)
    # 200 ticks passed on all CPUs, 160 of them busy (steal included), 30 of those ours: 130/200 of the machine
    cpus = __import__("os").cpu_count()
    assert busy == pytest.approx(130 / 200 * cpus)
    assert others_busy(root=tmp_path / "absent") is None


def test_starting_threads_leave_the_busy_cpus_to_their_owners() -> None:
    assert starting_threads(CpuBudget(2, None), 0.1) == 2
    assert starting_threads(CpuBudget(2, None), 1.0) == 1
    assert starting_threads(CpuBudget(2, None), 6.0) == 1
    assert starting_threads(CpuBudget(16, None), 4.2) == 12
    assert starting_threads(CpuBudget(4, None), None) == 4


# ----- the governor ---------------------------------------------------------------------------------------------
class FakeMachine:
    """A clock and a speed per thread count: `run(work)` advances the clock by work / speed[threads]."""

    def __init__(self, speed: dict[int, float]) -> None:
        self.speed, self.now, self.threads, self.history = dict(speed), 0.0, None, []

    def set_threads(self, n: int) -> None:
        self.threads = n
        self.history.append(n)

    def run(self, governor: ThreadGovernor, steps: int, work: float = 100.0) -> None:
        for _ in range(steps):
            seconds = work / self.speed[self.threads]
            self.now += seconds
            governor.record(work, seconds)


def governor_on(machine: FakeMachine, max_threads: int, start: int | None = None) -> ThreadGovernor:
    return ThreadGovernor(
        max_threads,
        start,
        set_threads=machine.set_threads,
        clock=lambda: machine.now,
        settle=10.0,
        max_settle=80.0,
        trial=1.0,
    )


def test_a_quiet_machine_keeps_all_threads_and_tries_less_and_less_often() -> None:
    machine = FakeMachine({2: 160.0, 1: 100.0})  # two threads 1.6x one, as measured on a quiet machine
    governor = governor_on(machine, 2)
    machine.run(governor, 2000)  # 1,250 fake seconds
    assert governor.threads == 2 and governor.switches == []
    trials = machine.history.count(1)
    # settling 10, 20, 40, then 80 s between trials (about 18 in 1,250 s), where a fixed 10 s would make ~110
    assert 12 <= trials <= 20
    assert governor.settle == 80.0


def test_a_busy_machine_moves_to_one_thread_and_back_when_it_quietens() -> None:
    machine = FakeMachine({2: 15.0, 1: 100.0})  # two threads collapse beside other work
    governor = governor_on(machine, 2)
    machine.run(governor, 300)
    assert governor.threads == 1 and machine.threads == 1
    assert governor.switches[0][:2] == (2, 1) and governor.switches[0][2] > 5
    machine.speed = {2: 160.0, 1: 100.0}  # the other work has ended
    machine.run(governor, 3000)
    assert governor.threads == 2 and machine.threads == 2
    assert governor.switches[-1][:2] == (1, 2)


def test_a_small_difference_is_not_a_reason_to_switch() -> None:
    machine = FakeMachine({2: 100.0, 1: 105.0})  # within the 10% margin
    governor = governor_on(machine, 2)
    machine.run(governor, 2000)
    assert governor.threads == 2 and governor.switches == []


def test_the_ladder_halves_and_trials_walk_it_both_ways() -> None:
    assert threads._ladder(16) == [16, 8, 4, 2, 1]
    assert threads._ladder(6) == [6, 3, 1]
    assert threads._ladder(1) == [1]
    machine = FakeMachine({16: 50.0, 8: 90.0, 4: 100.0, 2: 60.0, 1: 40.0})  # 4 threads is best on this machine
    governor = governor_on(machine, 16)
    machine.run(governor, 5000)
    assert governor.threads == 4
    single = FakeMachine({1: 10.0})
    governor = governor_on(single, 1)
    single.run(governor, 500)
    assert single.history == [1] and governor.switches == []


def test_bad_measurements_are_ignored() -> None:
    machine = FakeMachine({2: 100.0, 1: 50.0})
    governor = governor_on(machine, 2)
    governor.record(0, 1.0)
    governor.record(10, 0.0)
    governor.record(-5, -1.0)
    assert governor.threads == 2 and machine.history == [2]


# ----- the process's policy -------------------------------------------------------------------------------------
def test_an_explicit_count_or_fixed_threads_mean_no_governor(unfixed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert threads.thread_governor(1) is None and torch.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.thread_governor(None) is None and threads.shared_governor() is None
    monkeypatch.delenv("OMP_NUM_THREADS")
    threads.fix_threads(1)
    assert threads.thread_governor(None) is None and threads.shared_governor() is None
    assert torch.get_num_threads() == 1


def test_automatic_threads_start_from_the_free_cpus_and_say_so(
    unfixed: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(threads, "cpu_budget", lambda: CpuBudget(4, None))
    monkeypatch.setattr(threads, "others_busy", lambda: 3.2)
    with caplog.at_level(logging.INFO, logger="sentilstm.system.threads"):
        governor = threads.thread_governor(None)
    assert governor is not None and governor.threads == 1 and torch.get_num_threads() == 1
    assert "1 CPU thread to start" in caplog.text and "4 usable" in caplog.text and "busy on 3.2 CPUs" in caplog.text
    monkeypatch.setattr(threads, "others_busy", lambda: 0.0)
    governor = threads.thread_governor(None, max_threads=2)  # e.g. one of two DDP processes on 4 CPUs
    assert governor is not None and governor.ladder == [2, 1] and governor.threads == 2
    monkeypatch.setattr(threads, "cpu_budget", lambda: CpuBudget(1, None))
    assert threads.thread_governor(None) is None and torch.get_num_threads() == 1


def test_training_and_large_predictions_are_governed(
    unfixed: None,
    monkeypatch: pytest.MonkeyPatch,
    tiny_params: dict,
    negation_data: tuple,
) -> None:
    from sentilstm import SentimentClassifier
    from sentilstm.estimators import classifier

    monkeypatch.setattr(threads, "cpu_budget", lambda: CpuBudget(2, None))
    monkeypatch.setattr(threads, "others_busy", lambda: 1.5)  # start on one thread, whatever the machine does
    made: list[Counting] = []

    class Counting(threads.ThreadGovernor):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.steps = 0
            made.append(self)

        def record(self, work: float, seconds: float) -> None:
            self.steps += 1
            super().record(work, seconds)

    monkeypatch.setattr(threads, "ThreadGovernor", Counting)
    texts, labels = negation_data
    clf = SentimentClassifier(**{**tiny_params, "num_threads": None}).fit(texts, labels)
    assert len(made) == 1 and made[0].steps == sum(e.steps for e in clf.history_.epochs)
    monkeypatch.setattr(classifier, "GOVERNED_TEXTS", 100)
    clf.predict_proba(texts[:150])
    assert len(made) == 2 and made[1].steps > 0  # the shared prediction governor, made once...
    clf.predict_proba(texts[:150])
    clf.predict_proba(texts[:10])  # ...kept for later calls; small calls leave the threads alone
    assert len(made) == 2 and made[0].threads == 1


def test_fix_threads_holds_for_servers_and_workers(unfixed: None, tiny_params: dict, negation_data: tuple) -> None:
    from sentilstm import SentimentClassifier

    threads.fix_threads(1)
    texts, labels = negation_data
    SentimentClassifier(**{**tiny_params, "num_threads": None}).fit(texts, labels)
    assert torch.get_num_threads() == 1 and threads._shared is None
