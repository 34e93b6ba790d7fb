"""CPU threads: how many this process may use, and how many pay off right now.

    budget = cpu_budget()                       # affinity and cgroup quota: the CPUs we may actually use
    governor = ThreadGovernor(budget.usable)    # picks torch's intra-op threads while a loop runs
    for batch in batches:
        started = time.perf_counter(); work(batch)
        governor.record(tokens_in(batch), time.perf_counter() - started)

Why: torch runs its intra-op work on OpenMP threads that spin at every barrier, waiting for each other. On a
quiet machine that is what makes two threads 1.6x one (PERF_NOTES section 2). When other processes use the
cores, a descheduled thread holds every barrier up for a scheduler time slice: training with 2 threads on a
2-core machine that was also running a test suite went 30x slower than with 1 thread (issue 14, item 13).
The number of CPUs a process sees (`os.cpu_count()`) is not the number it may use either: a container's
CPU quota or a `taskset` mask can be far smaller.

So the number of threads is measured, not assumed: the governor starts from the CPUs the machine has free,
then now and then runs a few steps with the neighbouring thread count and keeps whichever does more work
per second. On a quiet machine that costs a trial of about a second every few minutes; on a busy one it
avoids the collapse, and it follows the load as it changes during a long run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


# ----- what the process may use ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CpuBudget:
    """The CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (containers, systemd)."""

    affinity: int  # CPUs in the scheduler's affinity mask (taskset, cpusets)
    quota: float | None  # CPUs' worth of time the cgroup allows per period (None: no quota)

    @property
    def usable(self) -> int:
        """Whole CPUs: a quota of 1.5 CPUs gives 2 threads that each run 75% of the time, which still pays."""
        if self.quota is None:
            return self.affinity
        return max(1, min(self.affinity, math.ceil(self.quota - 1e-9)))

    def describe(self) -> str:
        quota = f"cgroup quota {self.quota:g} CPUs" if self.quota is not None else "no cgroup quota"
        return f"{self.usable} usable ({self.affinity} in the affinity mask, {quota})"


def cpu_budget(root: Path = Path("/")) -> CpuBudget:
    """This process's CpuBudget; `root` is the file-system root to read /proc and /sys from (tests use a fake one)."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        affinity = os.cpu_count() or 1
    return CpuBudget(affinity, cgroup_quota(root))


def max_processes() -> int:
    """The most worker processes worth starting here: one per CPU in the affinity mask (two on a one-CPU machine,
    for trying things out); each computes, so more only thrash."""
    return max(2, cpu_budget().affinity)


def cgroup_quota(root: Path = Path("/")) -> float | None:
    """CPUs allowed by the tightest CPU quota on this process's cgroup path (v2 `cpu.max`, v1 `cpu.cfs_quota_us`).

    A quota set on any ancestor cgroup limits its children too, so every level up to the root is read.
    """
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "":  # v2: "0::/user.slice/..."
            base = root / "sys/fs/cgroup"
            quotas += [q for q in (_v2_quota(base / level) for level in _levels(path)) if q is not None]
        elif "cpu" in controllers.split(","):  # v1: "4:cpu,cpuacct:/docker/..."
            for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                base = root / "sys/fs/cgroup" / mount
                if base.is_dir():
                    quotas += [q for q in (_v1_quota(base / level) for level in _levels(path)) if q is not None]
                    break
    return min(quotas) if quotas else None


def _levels(path: str) -> list[str]:
    """'/a/b' -> ['a/b', 'a', '']: the cgroup and its ancestors, relative to the mount point."""
    parts = [p for p in path.strip().split("/") if p and p != ".."]
    return ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


# ----- what the rest of the machine is using ---------------------------------------------------------------------
def _machine_busy_ticks(root: Path) -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot; steal counts as busy (a hypervisor neighbour has the core)."""
    fields = [int(x) for x in (root / "proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest time is inside user)
    return total - idle, total


def _own_ticks(root: Path) -> int:
    """Clock ticks this process has run (all its threads): utime + stime."""
    text = (root / "proc/self/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return int(fields[11]) + int(fields[12])


def others_busy(
    seconds: float = 0.15, root: Path = Path("/"), sleep: Callable[[float], None] = time.sleep
) -> float | None:
    """CPUs' worth of work other processes (and hypervisor neighbours) did over the next `seconds`; None off Linux."""
    try:
        busy0, total0 = _machine_busy_ticks(root)
        own0 = _own_ticks(root)
        sleep(seconds)
        busy1, total1 = _machine_busy_ticks(root)
        own1 = _own_ticks(root)
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    cpus = os.cpu_count() or 1  # /proc/stat's first line sums every online CPU
    return max(0.0, (busy1 - busy0) - (own1 - own0)) / (total1 - total0) * cpus


def starting_threads(budget: CpuBudget, busy: float | None) -> int:
    """Threads to start with: the usable CPUs that other processes leave free (at least 1)."""
    if busy is None:
        return budget.usable
    free = budget.usable - busy
    return max(1, min(budget.usable, int(free + 0.5)))


# ----- choosing while a loop runs --------------------------------------------------------------------------------
class ThreadGovernor:
    """Chooses torch's intra-op thread count during a loop of similar steps, from their measured speed.

    Each step reports the work it did (e.g. padded tokens) and its wall time. The governor stays on its current
    count for a settling period, then tries the neighbouring count (one step down the ladder max, max/2, ..., 1,
    or up) for a short trial, and switches when the trial did at least `margin` more work per second than the
    current count did just before it. A trial that loses doubles the settling period (up to `max_settle`), so a
    quiet machine pays for trials less and less often; a switch resets it, so a machine whose load changes is
    followed closely.

    `set_threads` defaults to `torch.set_num_threads`; `clock` to `time.monotonic` (tests pass fakes).
    """

    def __init__(
        self,
        max_threads: int,
        start: int | None = None,
        *,
        settle: float = 20.0,
        max_settle: float = 320.0,
        trial: float = 1.5,
        margin: float = 0.1,
        set_threads: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ladder = _ladder(max_threads)
        self.threads = min(self.ladder, key=lambda n: abs(n - (start or max_threads)))
        self.settle, self.min_settle, self.max_settle, self.trial_seconds, self.margin = (
            settle,
            settle,
            max_settle,
            trial,
            margin,
        )
        self._set = set_threads or _torch_set_num_threads
        self._clock = clock
        self._set(self.threads)
        self._phase_started = clock()
        self._trial: int | None = None  # the thread count on trial, None while settled
        self._recent: list[tuple[float, float]] = []  # (work, seconds) of the settled steps, newest last
        self._trial_steps: list[tuple[float, float]] = []
        self._try_lower_next = True
        self.switches: list[tuple[int, int, float]] = []  # (from, to, speed-up) of each switch, for logs and tests

    def record(self, work: float, seconds: float) -> None:
        """One step did `work` units in `seconds` at the current thread count; maybe start or end a trial."""
        if seconds <= 0 or work <= 0:
            return
        now = self._clock()
        if self._trial is None:
            self._recent.append((work, seconds))
            while len(self._recent) > 2 and sum(s for _, s in self._recent[1:]) >= self.trial_seconds:
                self._recent.pop(0)  # keep about one trial's worth of the latest settled steps
            if now - self._phase_started >= self.settle and len(self._recent) >= 2:
                self._start_trial(now)
            return
        self._trial_steps.append((work, seconds))
        measured = self._trial_steps[1:]  # the first step after a change may pay for thread start-up
        if len(measured) >= 2 and sum(s for _, s in measured) >= self.trial_seconds:
            self._end_trial(now, _rate(measured))

    def _start_trial(self, now: float) -> None:
        index = self.ladder.index(self.threads)
        lower = index + 1 < len(self.ladder)
        higher = index > 0
        if not (lower or higher):
            self._phase_started, self._recent = now, []
            return
        go_lower = lower and (self._try_lower_next or not higher)
        self._try_lower_next = not go_lower
        self._trial = self.ladder[index + 1] if go_lower else self.ladder[index - 1]
        self._trial_steps = []
        self._set(self._trial)

    def _end_trial(self, now: float, trial_rate: float) -> None:
        assert self._trial is not None
        current_rate = _rate(self._recent)
        if trial_rate > current_rate * (1 + self.margin):
            speedup = trial_rate / current_rate
            log.info(
                "threads: %d -> %d (%.1fx the work per second%s)",
                self.threads,
                self._trial,
                speedup,
                "; the CPUs are busy with other work" if self._trial < self.threads else "",
            )
            self.switches.append((self.threads, self._trial, speedup))
            self.threads, self.settle = self._trial, self.min_settle
        else:
            self._set(self.threads)
            self.settle = min(self.max_settle, self.settle * 2)
        self._trial, self._recent, self._phase_started = None, [], now


def _rate(steps: list[tuple[float, float]]) -> float:
    return sum(w for w, _ in steps) / sum(s for _, s in steps)


def _ladder(max_threads: int) -> list[int]:
    """max, max/2, ..., 1 (rounded down, without repeats): e.g. 16 -> [16, 8, 4, 2, 1], 6 -> [6, 3, 1]."""
    ladder, n = [], max(1, int(max_threads))
    while n >= 1 and n not in ladder:
        ladder.append(n)
        n //= 2
    return ladder


# ----- the process's policy ------------------------------------------------------------------------------------
_fixed: int | None = None  # set by fix_threads: this process's threads were chosen by its owner (server, CV worker)
_shared: ThreadGovernor | None = None  # the governor of large predictions in this process (shared_governor)


def fix_threads(n: int) -> None:
    """Set torch's intra-op threads to `n` for the rest of this process; no governor changes them afterwards.

    For processes whose owner has divided the CPUs already: a server's single-threaded workers, a
    cross-validation fold's share of the cores."""
    global _fixed, _shared
    _torch_set_num_threads(n)
    _fixed, _shared = n, None


def thread_governor(
    num_threads: int | None, *, max_threads: int | None = None, what: str = "training"
) -> ThreadGovernor | None:
    """Set torch's intra-op threads for a CPU loop: `num_threads` when given (or OMP_NUM_THREADS when set), else
    a ThreadGovernor that starts from the free usable CPUs (at most `max_threads`) and adapts; None when fixed."""
    import torch

    if num_threads is not None:
        torch.set_num_threads(num_threads)
        log.info("%s on %d CPU thread%s (as asked)", what, num_threads, "" if num_threads == 1 else "s")
        return None
    if _fixed is not None:
        torch.set_num_threads(_fixed)
        return None
    if os.environ.get("OMP_NUM_THREADS"):
        log.info("%s on %d CPU threads (OMP_NUM_THREADS)", what, torch.get_num_threads())
        return None
    budget = cpu_budget()
    usable = min(budget.usable, max_threads or budget.usable)
    if usable == 1:
        torch.set_num_threads(1)
        log.info("%s on 1 CPU thread: %s", what, budget.describe())
        return None
    busy = others_busy()
    start = starting_threads(dataclasses.replace(budget, affinity=usable, quota=None), busy)
    governor = ThreadGovernor(usable, start)
    log.info(
        "%s on %d CPU thread%s to start: %s, other processes busy on %s CPUs; adjusted to the measured speed",
        what,
        governor.threads,
        "" if governor.threads == 1 else "s",
        budget.describe(),
        "?" if busy is None else f"{busy:.1f}",
    )
    return governor


def free_threads(what: str) -> int:
    """A fixed thread count for a runtime that cannot change it later (an ONNX Runtime session): the usable CPUs
    that other processes leave free now."""
    budget, busy = cpu_budget(), others_busy()
    threads = starting_threads(budget, busy)
    log.info(
        "%s on %d CPU thread%s: %s, other processes busy on %s CPUs",
        what,
        threads,
        "" if threads == 1 else "s",
        budget.describe(),
        "?" if busy is None else f"{busy:.1f}",
    )
    return threads


def shared_governor() -> ThreadGovernor | None:
    """The governor for large predictions in this process (made once, kept across calls: a file scored chunk by
    chunk keeps learning what pays); None where the threads are fixed (`fix_threads`, OMP_NUM_THREADS)."""
    global _shared
    if _shared is None and _fixed is None and not os.environ.get("OMP_NUM_THREADS"):
        _shared = thread_governor(None, what="prediction")
    return _shared


def _torch_set_num_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


__all__ = [
    "CpuBudget",
    "ThreadGovernor",
    "cgroup_quota",
    "cpu_budget",
    "fix_threads",
    "free_threads",
    "max_processes",
    "others_busy",
    "shared_governor",
    "starting_threads",
    "thread_governor",
]
