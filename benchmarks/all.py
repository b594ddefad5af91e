"""Every benchmark on SQLite and PostgreSQL, and the test suite's duration: one table (``make bench``).

Each row is one figure, its target and whether this run met it. The machine,
its CPUs, its load average (before and after) and how fast one CPU runs plain
Python (a fixed loop, timed) head the table: figures taken at a load average
above 1, or on a CPU whose loop time differs from the README's, are not
comparable with the README's.

    .venv/bin/python benchmarks/all.py [--quick] [--no-tests] [--database-url URL]

``--database-url`` names a PostgreSQL scratch database ending in _bench (dropped
and re-created by each benchmark; default BENCH_DATABASE_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/responder_bench). ``--quick`` runs
fewer repetitions.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._figures import Figure, load  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/responder_bench"
TEST_TARGET_SECONDS = 180


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-tests", action="store_true", help="leave out the test suite's duration")
    args = parser.parse_args()

    load_before = os.getloadavg()
    loop_seconds = cpu_loop_seconds()
    postgres = reachable(args.database_url)
    runs = "3" if args.quick else "7"
    plan: list[tuple[str, list[str]]] = []
    for url in [None] + ([args.database_url] if postgres else []):
        database = ["--database-url", url] if url else []
        plan += [
            ("alert_fanout", ["--runs", runs, *database]),
            ("scheduler_scale", ["--batch", "300", *database]),
            ("scheduler_scale", ["--batch", "1000", *database]),
            ("read_paths", database),
        ]
    if postgres:
        plan.append(("open_load", ["--database-url", args.database_url]))

    with tempfile.TemporaryDirectory() as scratch:
        figures_file = str(Path(scratch) / "figures.jsonl")
        env = {**os.environ, "BENCH_FIGURES": figures_file}
        for script, options in plan:
            print(f"== {script} {' '.join(options)}", flush=True)
            with subprocess.Popen(
                [sys.executable, f"benchmarks/{script}.py", *options],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ) as child:
                for line in child.stdout:
                    if not line.startswith('{"time"'):  # the app's JSON log lines: figures only
                        print(line, end="", flush=True)
            if child.returncode:
                print(f"!! {script} exited {child.returncode}", flush=True)
        figures = load(figures_file) if Path(figures_file).exists() else []
    if not args.no_tests:
        figures.append(test_suite())

    print_table(figures, load_before, os.getloadavg(), loop_seconds, postgres)


def cpu_loop_seconds() -> float:
    """How long one CPU takes over ten million Python additions (the best of three)."""

    def loop() -> float:
        started = time.perf_counter()
        total = 0
        for number in range(10_000_000):
            total += number
        return time.perf_counter() - started

    return min(loop() for _ in range(3))


def reachable(url: str) -> str | None:
    """The PostgreSQL server's version, or None when it cannot be reached."""
    server = sa.engine.make_url(url).set(database="postgres")
    engine = sa.create_engine(server)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SHOW server_version"))
    except sa.exc.OperationalError as error:
        print(
            f"PostgreSQL at {server.render_as_string(hide_password=True)} unreachable, SQLite only: {error}"
        )
        return None
    finally:
        engine.dispose()


def test_suite() -> Figure:
    """ruff and the whole suite on SQLite, as `make test` runs them (dependencies already installed)."""
    print("== make test's checks (ruff, pytest -n auto)", flush=True)
    started = time.perf_counter()
    passed = all(
        subprocess.run(
            command, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        == 0
        for command in (
            [".venv/bin/ruff", "check", "."],
            [".venv/bin/ruff", "format", "--check", "."],
            [".venv/bin/pytest", "-n", "auto", "-q", "-p", "no:cacheprovider"],
        )
    )
    took = time.perf_counter() - started
    what = "make test: ruff and the whole suite (pytest -n auto)" + ("" if passed else ", FAILED")
    return Figure(
        "tests",
        what,
        "sqlite",
        took,
        "s",
        f"< {TEST_TARGET_SECONDS} s",
        passed and took < TEST_TARGET_SECONDS,
    )


def print_table(figures: list[Figure], before, after, loop_seconds: float, postgres: str | None) -> None:
    def loads(values) -> str:
        return ", ".join(f"{value:.2f}" for value in values)

    print()
    print(
        f"machine: {platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"PostgreSQL {postgres or 'not reached'}"
    )
    print(f"load average (1, 5, 15 min): {loads(before)} before, {loads(after)} after")
    print(
        f"CPU speed: 10 million Python additions in {loop_seconds:.2f} s (best of 3, before the benchmarks)"
    )
    print()
    print("| figure | database | measured | target | met |")
    print("| --- | --- | --- | --- | --- |")
    for figure in figures:
        value = f"{figure.value:,.0f}" if figure.unit == "count" else f"{figure.value:,.2f}"
        unit = "" if figure.unit in ("count", "x") else f" {figure.unit}"
        met = "-" if figure.target == "-" else ("met" if figure.met else "NOT MET")
        print(f"| {figure.what} | {figure.database} | {value}{unit} | {figure.target} | {met} |")
    judged = [figure for figure in figures if figure.target != "-"]
    print()
    print(f"{sum(figure.met for figure in judged)} of {len(judged)} targets met")


if __name__ == "__main__":
    main()
