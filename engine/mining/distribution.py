"""Distributions of durations per group: ``{n, mean, median, p90, max, sum}`` in SQL.

Percentiles are linearly interpolated between ranks, as numpy's default does: the value at
fraction ``q`` of ``n`` sorted values lies between ranks ``floor(q * (n - 1))`` and the next.

Ranking every row with window functions sorted the data once per measure and carried
every row through; both databases have a cheaper way to reach two ranks per group:

* PostgreSQL: the ordered-set aggregate ``percentile_cont`` (one sort per group, no window),
* SQLite: each measure's values are copied into a temporary table in (group, value) order,
  so a value's rowid is its rank; the two values around each percentile are then read by
  rowid (one sort and one lookup statement per measure; groups are activities or steps,
  never rows).
"""
import itertools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text

from engine.mining.logview import LogView

STATS = ("n", "mean", "median", "p90", "max", "sum")
QUANTILES = {"median": (1, 2), "p90": (9, 10)}  # name: (numerator, denominator)
BRANCHES = 400  # rowids looked up per statement

_names = itertools.count(1)


def distribution(view: LogView, source: str, groups: Mapping[str, str], measures: Mapping[str, str],
                 where: str = "1 = 1", params: Mapping[str, Any] | None = None,
                 carry: Mapping[str, tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Per group of ``source``: the distribution of each SQL expression in ``measures``.

    ``groups`` maps output names to SQL expressions (may be empty: one overall row);
    ``measures`` maps names to SQL expressions (NULL values are left out); ``carry`` maps
    further output names to ``(expression, aggregate)``, e.g. ``("a.t_done", "COUNT")``.
    Returns a list of dicts with the group values, ``rows``, the carried values and
    ``{measure: {n, mean, median, p90, max, sum}}``, ordered by the group values.
    """
    groups = dict(groups) or {"all_rows": "0"}
    carry = dict(carry or {})
    picked = ", ".join([*(f"{expr} AS {name}" for name, expr in groups.items()),
                        *(f"{expr} AS {name}" for name, (expr, _agg) in carry.items()),
                        *(f"CAST({expr} AS DOUBLE PRECISION) AS {name}" for name, expr in measures.items())])
    inner = f"SELECT {picked} FROM {source} WHERE {where}"
    heads = ", ".join(["COUNT(*) AS rows_n", *(f"{agg}({name}) AS {name}" for name, (_expr, agg) in carry.items())])
    if view.dialect == "postgresql":
        rows = _postgresql(view, inner, groups, heads, measures, params or {})
    else:
        rows = _ranked_by_index(view, inner, groups, heads, measures, params or {})
    out = []
    for row in rows:
        item = {name: row[name] for name in groups if name != "all_rows"}
        item["rows"] = row["rows_n"]
        item.update({name: row[name] for name in carry})
        for m in measures:
            item[m] = {stat: row[f"{m}__{stat}"] for stat in STATS}
            item[m]["n"] = item[m]["n"] or 0
        out.append(item)
    return out


def _plain_stats(m):
    return f"COUNT({m}) AS {m}__n, AVG({m}) AS {m}__mean, MAX({m}) AS {m}__max, SUM({m}) AS {m}__sum"


def _postgresql(view, inner, groups, heads, measures, params):
    group_list = ", ".join(groups)
    fractions = ", ".join(f"{num}.0 / {den}" for num, den in QUANTILES.values())
    stats = ", ".join(f"{_plain_stats(m)}, percentile_cont(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {m}) AS {m}__q"
                      for m in measures)
    rows = view.rows(f"SELECT {group_list}, {heads}, {stats} FROM ({inner}) v "
                     f"GROUP BY {group_list} ORDER BY {group_list}", **params)
    for row in rows:
        for m in measures:
            values = row.pop(f"{m}__q") or [None] * len(QUANTILES)
            row.update({f"{m}__{name}": value for name, value in zip(QUANTILES, values)})
    return rows


def _ranked_by_index(view, inner, groups, heads, measures, params):
    session = view.session
    table = f"mining_dist_{next(_names)}"
    group_list = ", ".join(groups)
    session.execute(text(f"CREATE TEMPORARY TABLE {table} AS {inner.format(cases=view.cases, acts=view.acts)}"), params)
    created = [table]
    try:
        rows = view.rows(f"SELECT {group_list}, {heads}, {', '.join(_plain_stats(m) for m in measures)} "
                         f"FROM {table} GROUP BY {group_list} ORDER BY {group_list}")
        for m in measures:
            # The measure's values copied out in the order of (group, value): a row's rowid is
            # then its place in that order, and a group's values start after the counts of the
            # groups before it (the same order as ``rows``). One sort, no index to build.
            ranked = f"{table}_{m}"
            session.execute(text(f"CREATE TEMPORARY TABLE {ranked} AS SELECT {m} AS v FROM {table} "
                                 f"WHERE {m} IS NOT NULL ORDER BY {group_list}, {m}"))
            created.append(ranked)
            wanted = []  # (row, quantile name, rowid of the lower value, fraction, next value in the group)
            before = 0
            for row in rows:
                n = row[f"{m}__n"] or 0
                for name, (num, den) in QUANTILES.items():
                    row[f"{m}__{name}"] = None
                    if n:
                        rank, rest = divmod(num * (n - 1), den)
                        wanted.append((row, name, before + rank + 1, rest * 1.0 / den, rank + 1 < n))
                before += n
            _fill_quantiles(session, ranked, m, wanted)
        return rows
    finally:
        for name in reversed(created):
            session.execute(text(f"DROP TABLE IF EXISTS {name}"))


def _fill_quantiles(session, ranked, m, wanted):
    """Read the two values around each wanted rank by rowid and interpolate between them."""
    needed = sorted({rowid + step for _row, _name, rowid, _frac, more in wanted for step in ((0, 1) if more else (0,))})
    values = {}
    for start in range(0, len(needed), BRANCHES):
        ids = ", ".join(str(int(i)) for i in needed[start:start + BRANCHES])
        values.update((rowid, v) for rowid, v in session.execute(text(f"SELECT rowid, v FROM {ranked} WHERE rowid IN ({ids})")).all())
    for row, name, rowid, frac, more in wanted:
        low = values[rowid]
        # The same sum the ranks' weights give: the lower value, plus the next one's share.
        row[f"{m}__{name}"] = low * (1 - frac) + (values[rowid + 1] * frac if more else 0.0)
