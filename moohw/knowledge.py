"""Knowledge devices: what a method may learn from, never the target (DESIGN.md budget rules).

For the standard benchmark the knowledge devices are the *train* split of a task of the NASFLAT
latency task suite (``tasks/latency_tasks.json``): ND for NB201, FD for FBNet. Without benchmark
data, a fixed set of synthetic devices stands in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from moohw.data import BenchmarkData, DataError
from moohw.errors import InputError, UnknownNameError

DEFAULT_TASK = {"nb201": "ND", "fbnet": "FD"}
#: Synthetic knowledge devices used when no benchmark data is available.
SYNTHETIC_KNOWLEDGE: tuple[str, ...] = tuple(f"synthetic:{1000 + i}" for i in range(8))


def task_split(data: BenchmarkData, space: str, task: str) -> dict[str, list[str]]:
    """``{"train": [...], "test": [...]}`` HELP column names of a task of the suite.

    Raises:
        KeyError: unknown space or task (the message lists the known ones).
        DataError: a task whose devices are not in the public tables here.
    """
    tasks = json.loads(data.path("tasks/latency_tasks.json").read_text())
    if space not in tasks:
        raise UnknownNameError(f"no tasks for space {space!r}; known: nb201, fbnet")
    if task not in tasks[space]:
        raise UnknownNameError(f"unknown task {task!r}; known: {', '.join(sorted(tasks[space]))}")
    t = tasks[space][task]
    if not t.get("available_here", False):
        raise DataError(f"task {task} needs devices whose latency tables are not available here")
    return {"train": list(t["train"]), "test": list(t["test"])}


def default_knowledge(space: str, data: BenchmarkData | None, target: str) -> list[str]:
    """Knowledge device names for ``target``: the default task's train split, else synthetic."""
    if data is not None and space in DEFAULT_TASK and data.has("tasks/latency_tasks.json"):
        names = [f"help:{d}" for d in task_split(data, space, DEFAULT_TASK[space])["train"]]
    else:
        names = list(SYNTHETIC_KNOWLEDGE)
    return [n for n in names if n != target]


def check_no_leak(target: str, knowledge: Sequence[str]) -> None:
    """Raise if the target device is among the knowledge devices."""
    if target in knowledge:
        raise InputError(f"target device {target} must not be a knowledge device")
