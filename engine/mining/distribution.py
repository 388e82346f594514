"""Distributions of durations per group: ``{n, mean, median, p90, max, sum}`` in SQL.

Percentiles are linearly interpolated between ranks, as numpy's default does: the value at
fraction ``q`` of ``n`` sorted values lies between ranks ``floor(q * (n - 1))`` and the next.

Ranking every row with window functions sorted the data once per measure and carried
every row through; both databases have a cheaper way to reach two ranks per group:

* PostgreSQL: the ordered-set aggregate ``percentile_cont`` (one sort per group, no window),
* SQLite: the measures go into a temporary table with an index per measure, and the two
  values around each percentile are read through the index by ``LIMIT 2 OFFSET rank``
  (one statement per measure, a branch per group and percentile; groups are activities or
  steps, never rows).
"""
import itertools
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text

from engine.mining.logview import LogView

STATS = ("n", "mean", "median", "p90", "max", "sum")
QUANTILES = {"median": (1, 2), "p90": (9, 10)}  # name: (numerator, denominator)
BRANCHES = 200  # rank lookups per statement (SQLite allows 500 compound terms)

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
    try:
        # Counts first: through a measure's index the grouping would fetch every row at random.
        rows = view.rows(f"SELECT {group_list}, {heads}, {', '.join(_plain_stats(m) for m in measures)} "
                         f"FROM {table} GROUP BY {group_list} ORDER BY {group_list}")
        for m in measures:
            session.execute(text(f"CREATE INDEX ix_{table}_{m} ON {table} ({group_list}, {m})"))
        for m in measures:
            wanted = []  # (row, quantile name, rank, fraction)
            for row in rows:
                n = row[f"{m}__n"] or 0
                for name, (num, den) in QUANTILES.items():
                    row[f"{m}__{name}"] = None
                    if n:
                        rank, rest = divmod(num * (n - 1), den)
                        wanted.append((row, name, rank, rest * 1.0 / den))
            for start in range(0, len(wanted), BRANCHES):
                _fill_quantiles(session, table, groups, m, wanted[start:start + BRANCHES])
        return rows
    finally:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))


def _fill_quantiles(session, table, groups, m, wanted):
    """Read the two values at each wanted rank in one statement and interpolate between them."""
    branches, params = [], {}
    for k, (row, _name, rank, _frac) in enumerate(wanted):
        same_group = " AND ".join(f"{g} IS :g{k}_{g}" for g in groups)
        branches.append(f"SELECT {k} AS k, {m} AS v FROM (SELECT {m} FROM {table} WHERE {same_group} "
                        f"AND {m} IS NOT NULL ORDER BY {m} LIMIT 2 OFFSET :r{k})")
        params.update({f"g{k}_{g}": row[g] for g in groups}, **{f"r{k}": rank})
    pairs = defaultdict(list)
    for k, value in session.execute(text(" UNION ALL ".join(branches)), params):
        pairs[k].append(value)
    for k, (row, name, _rank, frac) in enumerate(wanted):
        low, *high = sorted(pairs[k])
        # The same sum the ranks' weights give: the lower value, plus the next one's share.
        row[f"{m}__{name}"] = low * (1 - frac) + (high[0] * frac if high else 0.0)
