"""Where a machine's CPU went while a benchmark ran, by process group (Linux /proc).

A benchmark that sets a rate target on a small machine runs everything on
it: the web workers, PostgreSQL, the fake providers and the load generator.
This module reads each group's CPU time (user and system, children that have
exited included) and the machine's busy time before and after a phase, so
the benchmark can say what one unit of work cost the whole machine and what
rate its CPUs allow at that cost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    parent: int
    command: str
    cpu_seconds: float  # this process's own user + system time, and its reaped children's


@dataclass(frozen=True)
class Group:
    """A named set of processes, chosen afresh at each reading (workers may be replaced)."""

    name: str
    members: Callable[[list[ProcessStat]], Iterable[ProcessStat]]


def processes() -> list[ProcessStat]:
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        command = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17.
        ticks = sum(int(value) for value in fields[11:15])
        found.append(ProcessStat(int(entry.name), int(fields[1]), command, ticks / TICK))
    return found


def tree(root: int) -> Callable[[list[ProcessStat]], list[ProcessStat]]:
    """A process and everything it started (e.g. gunicorn's master and its workers)."""

    def members(table: list[ProcessStat]) -> list[ProcessStat]:
        chosen, frontier = [], {root}
        while frontier:
            level = [process for process in table if process.pid in frontier]
            chosen += level
            frontier = {process.pid for process in table if process.parent in frontier} - {
                process.pid for process in chosen
            }
        return chosen

    return members


def named(command: str) -> Callable[[list[ProcessStat]], list[ProcessStat]]:
    """Every process whose command name starts so (e.g. all of PostgreSQL's backends)."""
    return lambda table: [process for process in table if process.command.startswith(command)]


def machine_busy_seconds() -> float:
    """CPU seconds every CPU spent working since boot (all processes, the kernel included).

    User, nice, system, irq and softirq time; not idle or iowait, and not steal
    (a virtual machine's CPU taken by the host for others).
    """
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(value) for value in (PROC / "stat").read_text().splitlines()[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / TICK


class CpuAccount:
    """CPU seconds used by each group, and by the whole machine, between :meth:`start` and :meth:`stop`.

    A process that ended during the phase takes its time with it: readings
    are of processes alive at both ends (reaped children count in their parent).
    """

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        self.by_group: dict[str, float] = {}
        self.machine = 0.0

    def start(self) -> None:
        self._before = self._reading()

    def stop(self) -> None:
        after = self._reading()
        before_groups, before_machine = self._before
        after_groups, after_machine = after
        self.by_group = {
            name: sum(seconds - before_groups[name].get(pid, 0.0) for pid, seconds in members.items())
            for name, members in after_groups.items()
        }
        self.machine = after_machine - before_machine

    def _reading(self) -> tuple[dict[str, dict[int, float]], float]:
        table = processes()
        groups = {
            group.name: {process.pid: process.cpu_seconds for process in group.members(table)}
            for group in self.groups
        }
        return groups, machine_busy_seconds()

    def lines(self, units: int, unit_name: str) -> list[str]:
        """What one unit cost each group, the rest of the machine, and the rate the CPUs allow at that cost."""
        cpus = os.cpu_count() or 1
        per_unit = {name: seconds * 1000 / units for name, seconds in self.by_group.items()}
        total = self.machine * 1000 / units
        parts = ", ".join(f"{name} {ms:.0f}" for name, ms in per_unit.items())
        rest = total - sum(per_unit.values())
        return [
            f"CPU per {unit_name} (ms): {parts}, everything else {rest:.0f}; the machine {total:.0f}",
            f"at that cost {cpus} CPUs allow at most {cpus * 1000 / total:.1f} {unit_name}s a second",
        ]
