"""Distributions of durations per group: ``{n, mean, median, p90, max, sum}`` in SQL.

Percentiles are linearly interpolated between ranks, as numpy's default does: the value at
fraction ``q`` of ``n`` sorted values lies between ranks ``floor(q * (n - 1))`` and the next.

Ranking every row with window functions sorted the data once per measure and carried
every row through; both databases have a cheaper way to reach two ranks per group:

* PostgreSQL: the ordered-set aggregate ``percentile_cont`` (one sort per group, no window),
* SQLite (no percentile aggregate): the values are read once, unordered, and each group's
  list is sorted in Python, which also gives its count, maximum and (exact) sum. The
  same read gives the row counts and COUNT carries (a 0/1 column each), and a DISTINCT
  read the MAX/MIN carries: a GROUP BY sorted every row and cost as much as the read.
  At a million events that is several times cheaper than one sorted copy of the values
  per measure in a temporary table.
"""
import math
from operator import itemgetter
from collections.abc import Mapping
from typing import Any

from engine.mining.logview import LogView

STATS = ("n", "mean", "median", "p90", "max", "sum")
QUANTILES = {"median": (1, 2), "p90": (9, 10)}  # name: (numerator, denominator)


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
        rows = _sorted_in_python(view, inner, groups, heads, measures, params or {}, carry)
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


def _sorted_in_python(view, inner, groups, heads, measures, params, carry):
    group_list = ", ".join(groups)
    width = len(groups)
    # Row counts and COUNT carries come with the values (a 0/1 column each): a GROUP BY
    # sorts every row, which costs as much as the read itself. MAX/MIN carries come from the
    # DISTINCT combinations (hashed, not sorted; few per group).
    counted = [name for name, (_expr, agg) in carry.items() if agg.upper() == "COUNT"]
    extreme = {name: agg.upper() for name, (_expr, agg) in carry.items() if agg.upper() in ("MAX", "MIN")}
    if len(counted) + len(extreme) < len(carry):
        return _grouped_heads(view, inner, groups, heads, measures, params)
    flags = "".join(f", {name} IS NOT NULL" for name in counted)
    parted = _parted(view, f"SELECT {group_list}, {', '.join(measures)}{flags} FROM ({inner}) v", width, params)
    combos: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    if extreme:
        combos = _parted(view, f"SELECT DISTINCT {group_list}, {', '.join(extreme)} FROM ({inner}) v", width, params)
    rows = []
    for key in sorted(parted, key=lambda k: tuple(map(_sqlite_order, k))):
        records = parted[key]
        row: dict[str, Any] = dict(zip(groups, key))
        row["rows_n"] = len(records)
        for place, name in enumerate(counted, start=width + len(measures)):
            row[name] = sum(map(itemgetter(place), records))
        for place, (name, agg) in enumerate(extreme.items(), start=width):
            present = [combo[place] for combo in combos.get(key, ()) if combo[place] is not None]
            row[name] = (max if agg == "MAX" else min)(present, key=_sqlite_order) if present else None
        rows.append(row)
    _fill_measures(rows, parted, groups, measures)
    return rows


def _sqlite_order(value):
    """Sort key giving SQLite's order of mixed values: NULL, numbers, text, blobs."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, value) if isinstance(value, str) else (3, value)


def _parted(view, sql, width, params):
    """Rows of ``sql`` by their first ``width`` columns (in the order read)."""
    parted: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for record in view.tuples(sql, **params):
        key = record[:width]
        records = parted.get(key)
        if records is None:
            parted[key] = [record]
        else:
            records.append(record)
    return parted


def _grouped_heads(view, inner, groups, heads, measures, params):
    """Like :func:`_sorted_in_python`, for carried aggregates other than COUNT, MAX and MIN."""
    group_list = ", ".join(groups)
    rows = view.rows(f"SELECT {group_list}, {heads} FROM ({inner}) v GROUP BY {group_list} ORDER BY {group_list}",
                     **params)
    parted = _parted(view, f"SELECT {group_list}, {', '.join(measures)} FROM ({inner}) v", len(groups), params)
    _fill_measures(rows, parted, groups, measures)
    return rows


def _fill_measures(rows, parted, groups, measures):
    """Each measure's distribution into its group's row: the values sorted in Python."""
    width = len(groups)
    for row in rows:
        records = parted.get(tuple(row[name] for name in groups), [])
        for place, m in enumerate(measures, start=width):
            stats = summary([r[place] for r in records if r[place] is not None])
            row.update({f"{m}__{stat}": value for stat, value in stats.items()})


def summary(values: list[float]) -> dict[str, Any]:
    """``{n, mean, median, p90, max, sum}`` of ``values`` (no NULLs), as every report computes it."""
    ordered = sorted(values)
    stats: dict[str, Any] = {"n": 0, "sum": None, "max": None, "mean": None}
    if ordered:
        # Summed exactly (fsum): the mean does not depend on the order the rows came in.
        total = math.fsum(ordered)
        stats = {"n": len(ordered), "sum": total, "max": ordered[-1], "mean": total / len(ordered)}
    for name, fraction in QUANTILES.items():
        stats[name] = _quantile(ordered, *fraction)
    return stats


def _quantile(ordered, num, den):
    """Linear interpolation between the ranks around ``num / den`` of ``ordered`` (numpy's default)."""
    if not ordered:
        return None
    rank, rest = divmod(num * (len(ordered) - 1), den)
    return _between(ordered[rank], ordered[rank + 1] if rank + 1 < len(ordered) else None, rest, den)


def _between(low, high, rest, den):
    """The value ``rest / den`` of the way from ``low`` to ``high`` (``high`` None: past the last rank)."""
    frac = rest * 1.0 / den
    # The same sum the ranks' weights give: the lower value, plus the next one's share.
    return low * (1 - frac) + (high * frac if high is not None else 0.0)


def indexed(view: LogView, table: str, group: str, measures: Mapping[str, tuple[str, str]], scan: str,
            carry: Mapping[str, str] | None = None) -> dict[Any, dict[str, Any]]:
    """Per ``group`` value: the distribution of each measure, read from indexes (SQLite, whole tables).

    ``measures`` maps names to ``(index, expression)``, the index ordered by ``(group,
    expression)``; ``scan`` is an index holding ``group``, every expression and the columns
    of ``carry`` (output name -> aggregate). One ordered scan of ``scan`` gives each group's
    counts, sums and maxima; each median and p90 is two values read at their rank from the
    nearer end of the group's range in the measure's own index. Nothing is sorted and no
    table row is read. Returns ``{group value: {"rows", carried names..., measure: {n, mean,
    median, p90, max, sum}}}``.
    """
    carry = dict(carry or {})
    heads = ", ".join(["COUNT(*)", *(f"COUNT({e}), SUM({e}), MAX({e})" for _index, e in measures.values()),
                       *carry.values()])
    scanned = view.probe(f"SELECT {group}, {heads} FROM {table} INDEXED BY {scan} GROUP BY {group}")
    out = {}
    for key, rows, *values in scanned:
        found: dict[str, Any] = {"rows": rows, **dict(zip(carry, values[3 * len(measures):]))}
        for place, (name, (index, expr)) in enumerate(measures.items()):
            n, total, top = values[3 * place:3 * place + 3]
            found[name] = _ranked_stats(view, table, index, group, expr, key, rows, n, total, top)
        out[key] = found
    return out


def _ranked_stats(view, table, index, group, expr, key, rows, n, total, top):
    stats: dict[str, Any] = {"n": n, "sum": None, "max": None, "mean": None, "median": None, "p90": None}
    if not n:
        return stats
    stats.update(sum=total, max=top, mean=total / n)
    # SQLite puts NULLs first in an ascending index: the group's range holds ``rows - n`` of
    # them before its values, so offsets skip them without testing each entry.
    ranked = f"SELECT {expr} FROM {table} INDEXED BY {index} WHERE {group} = ? ORDER BY {expr} {{}} LIMIT ? OFFSET ?"
    for name, (num, den) in QUANTILES.items():
        rank, rest = divmod(num * (n - 1), den)
        want = 2 if rank + 1 < n else 1
        if rank <= n - 1 - rank:  # nearer the smallest value
            values = [v for (v,) in view.probe(ranked.format("ASC"), (key, want, rows - n + rank))]
        else:
            values = [v for (v,) in view.probe(ranked.format("DESC"), (key, want, n - rank - want))]
            values.reverse()
        stats[name] = _between(values[0], values[1] if want == 2 else None, rest, den)
    return stats
