"""Figures a benchmark measured, written where ``benchmarks/all.py`` collects them.

Each benchmark prints its own table for a person, and also calls :func:`record`
for every figure that has a target; when ``BENCH_FIGURES`` names a file, the
figure is appended to it as a JSON line.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    benchmark: str  # the script, e.g. "alert_fanout"
    what: str  # what was measured, in words
    database: str  # "sqlite", "postgresql" or "-" when none is involved
    value: float
    unit: str  # "s", "ms", "x", "/s", "count"
    target: str  # the target in words, e.g. "<= 1.4"
    met: bool


def database_of(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def record(figure: Figure) -> None:
    path = os.environ.get("BENCH_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(figure)) + "\n")


def load(path: str) -> list[Figure]:
    with open(path, encoding="utf-8") as lines:
        return [Figure(**json.loads(line)) for line in lines if line.strip()]
