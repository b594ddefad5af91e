"""SQL pieces that the insights need and the two databases spell differently, or that are long to write.

* :class:`seconds_between`: the seconds from one timestamp to another
  (PostgreSQL subtracts and takes the epoch; SQLite, which stores text, has julianday);
* :func:`percentile`: a percentile of a partition by linear interpolation
  between the two nearest ranks (as PostgreSQL's ``percentile_cont``), written
  with ``row_number()`` and ``count()`` windows and integer arithmetic, so
  SQLite (which has no percentile function) gives the same figure;
* :func:`bucket`: a CASE that names the slot a value falls in, given the slots' upper bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, case, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement):
    """``seconds_between(start, end)``: seconds from ``start`` to ``end``, as a float."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_postgres(element, compiler, **kw) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw) -> str:
    start, end = list(element.clauses)
    return (
        f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 86400.0)"
    )


def percentile(
    tenths: int, value: ColumnElement[Any], rank: ColumnElement[int], size: ColumnElement[int]
) -> ColumnElement[float]:
    """The ``tenths``/10 percentile of ``value`` in each group of an aggregate query.

    ``rank`` is the row's ``row_number()`` in its group ordered by ``value``
    (from 1) and ``size`` the group's ``count()``; the query must group by
    ``size``. With h = q(n - 1), the answer is v[floor h] + (h - floor h)
    (v[floor h + 1] - v[floor h]), counting from 0: integer arithmetic picks
    the two ranks, so both databases agree to the last digit.
    """
    scaled = tenths * (size - 1)
    lower_rank = scaled // 10 + 1
    lower = func.max(case((rank == lower_rank, value)))
    upper = func.coalesce(func.max(case((rank == lower_rank + 1, value))), lower)
    return lower + (upper - lower) * (scaled % 10) / 10.0


def bucket(column: ColumnElement[Any], bounds: Sequence[tuple[Any, str]], last: str) -> ColumnElement[str]:
    """The label of the first slot whose upper bound ``column`` is below; ``last`` beyond them all."""
    if not bounds:
        return literal(last)
    return case(*[(column < bound, label) for bound, label in bounds], else_=last)
