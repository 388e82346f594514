"""Distributions of durations per group: ``{n, mean, median, p90, max, sum}`` in SQL.

Percentiles are linearly interpolated between ranks, as numpy's default does: the value at
fraction ``q`` of ``n`` sorted values lies between ranks ``floor(q * (n - 1))`` and the next.

Ranking every row with window functions sorted the data once per measure and carried
every row through; both databases have a cheaper way to reach two ranks per group:

* PostgreSQL: the ordered-set aggregate ``percentile_cont`` (one sort per group, no window),
* SQLite: the measures go into a temporary table with an index per measure, and the two
  rows around each percentile are read by ``LIMIT 2 OFFSET rank`` through the index
  (one query per group and percentile; groups are activities or steps, never rows).
"""
import itertools

from sqlalchemy import text

STATS = ("n", "mean", "median", "p90", "max", "sum")
QUANTILES = {"median": (1, 2), "p90": (9, 10)}  # name: (numerator, denominator)

_names = itertools.count(1)


def distribution(view, source, groups, measures, where="1 = 1", params=None):
    """Per group of ``source``: the distribution of each SQL expression in ``measures``.

    ``groups`` maps output names to SQL expressions (may be empty: one overall row);
    ``measures`` maps names to SQL expressions (NULL values are left out). Returns a list
    of dicts with the group values, ``rows`` and ``{measure: {n, mean, median, p90, max, sum}}``,
    ordered by the group values.
    """
    groups = dict(groups) or {"all_rows": "0"}
    picked = ", ".join([*(f"{expr} AS {name}" for name, expr in groups.items()),
                        *(f"CAST({expr} AS DOUBLE PRECISION) AS {name}" for name, expr in measures.items())])
    inner = f"SELECT {picked} FROM {source} WHERE {where}"
    if view.dialect == "postgresql":
        rows = _postgresql(view, inner, groups, measures, params or {})
    else:
        rows = _ranked_by_index(view, inner, groups, measures, params or {})
    out = []
    for row in rows:
        item = {name: row[name] for name in groups if name != "all_rows"}
        item["rows"] = row["rows_n"]
        for m in measures:
            item[m] = {stat: row[f"{m}__{stat}"] for stat in STATS}
            item[m]["n"] = item[m]["n"] or 0
        out.append(item)
    return out


def _plain_stats(m):
    return f"COUNT({m}) AS {m}__n, AVG({m}) AS {m}__mean, MAX({m}) AS {m}__max, SUM({m}) AS {m}__sum"


def _postgresql(view, inner, groups, measures, params):
    group_list = ", ".join(groups)
    fractions = ", ".join(f"{num}.0 / {den}" for num, den in QUANTILES.values())
    stats = ", ".join(f"{_plain_stats(m)}, percentile_cont(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {m}) AS {m}__q"
                      for m in measures)
    rows = view.rows(f"SELECT {group_list}, COUNT(*) AS rows_n, {stats} FROM ({inner}) v "
                     f"GROUP BY {group_list} ORDER BY {group_list}", **params)
    for row in rows:
        for m in measures:
            values = row.pop(f"{m}__q") or [None] * len(QUANTILES)
            row.update({f"{m}__{name}": value for name, value in zip(QUANTILES, values)})
    return rows


def _ranked_by_index(view, inner, groups, measures, params):
    session = view.session
    table = f"mining_dist_{next(_names)}"
    group_list = ", ".join(groups)
    session.execute(text(f"CREATE TEMPORARY TABLE {table} AS {inner.format(cases=view.cases, acts=view.acts)}"), params)
    try:
        for m in measures:
            session.execute(text(f"CREATE INDEX ix_{table}_{m} ON {table} ({group_list}, {m})"))
        rows = view.rows(f"SELECT {group_list}, COUNT(*) AS rows_n, {', '.join(_plain_stats(m) for m in measures)} "
                         f"FROM {table} GROUP BY {group_list} ORDER BY {group_list}")
        same_group = " AND ".join(f"{g} IS :g_{g}" for g in groups)
        for row in rows:
            keys = {f"g_{g}": row[g] for g in groups}
            for m in measures:
                n = row[f"{m}__n"] or 0
                for name, (num, den) in QUANTILES.items():
                    row[f"{m}__{name}"] = None
                    if not n:
                        continue
                    rank, rest = divmod(num * (n - 1), den)
                    frac = rest * 1.0 / den
                    pair = session.execute(text(
                        f"SELECT {m} FROM {table} WHERE {same_group} AND {m} IS NOT NULL "
                        f"ORDER BY {m} LIMIT 2 OFFSET :rank"), {**keys, "rank": rank}).scalars().all()
                    # The same sum the ranks' weights give: the lower value, plus the next one's share.
                    row[f"{m}__{name}"] = pair[0] * (1 - frac) + (pair[1] * frac if len(pair) > 1 else 0.0)
        return rows
    finally:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))


__all__ = ["distribution", "STATS"]
