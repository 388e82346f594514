"""Conformance: each finished case replayed against the diagram version it ran on.

The diagram is reduced to what the log can show: its user and service tasks, and which of
them may directly follow which (:class:`Footprint`) — walking through gateways, events,
script tasks, into and out of subprocesses, along boundary events (a task that times out
or fails is left for the boundary's path); tasks of a multi-instance scope or of parallel
branches may follow one another in any order.

A case's completed tasks, in the order they happened, are replayed on it: a step the
diagram allows from the previous one matches; a step it allows only after other tasks
means those were **skipped**; the same task again where the diagram does not loop is
**repeated**; a task the diagram cannot reach from where the case stands is
**unexpected** (and the replay stays where it was). Fitness is matches over matches plus
deviations, so 1.0 is a case that ran exactly as drawn.
"""
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.models import Definition
from engine.mining.cycle_times import COMPLETION_ORDER
from engine.mining.logview import LogFilter, LogView, log_view

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
VISIBLE = {"userTask", "serviceTask"}  # the tasks the event log records a completion of
START, END = "<start>", "<end>"


class Deviation(str):
    """A kind of deviation."""


SKIPPED, REPEATED, UNEXPECTED = Deviation("skipped"), Deviation("repeated"), Deviation("unexpected")


@dataclass
class Footprint:
    """Which visible task may directly follow which (``START`` and ``END`` included)."""

    follows: dict[str, set[str]]
    tasks: set[str]

    def allows(self, a: str, b: str) -> bool:
        return b in self.follows.get(a, ())

    def path(self, a: str, b: str) -> list[str] | None:
        """The fewest tasks between ``a`` and ``b`` (exclusive) the diagram passes through, or None."""
        previous: dict[str, str] = {a: a}
        queue = deque([a])
        while queue:
            node = queue.popleft()
            for nxt in sorted(self.follows.get(node, ())):
                if nxt not in previous:
                    previous[nxt] = node
                    if nxt == b:
                        between = []
                        while previous[nxt] != a:
                            nxt = previous[nxt]
                            between.append(nxt)
                        return between[::-1]
                    queue.append(nxt)
        return None


def footprint(bpmn_xml: str) -> Footprint:
    """The footprint of the first executable process of a diagram."""
    root = ET.fromstring(bpmn_xml.encode("utf-8"))
    process = next(p for p in root.iter(f"{BPMN}process") if p.get("isExecutable", "true") != "false")
    nodes: dict[str, dict[str, Any]] = {}

    def collect(scope: ET.Element, parent: str | None) -> None:
        for child in scope:
            kind, node_id = child.tag.replace(BPMN, ""), child.get("id")
            if kind == "sequenceFlow" or node_id is None or kind in ("laneSet", "extensionElements"):
                continue
            nodes[node_id] = {"kind": kind, "parent": parent, "out": [], "boundaries": [],
                                      "multi": child.find(f"{BPMN}multiInstanceLoopCharacteristics") is not None,
                                      "event_sub": child.get("triggeredByEvent") == "true",
                                      "interrupting": child.get("cancelActivity", "true") != "false",
                                      "attached": child.get("attachedToRef")}
            if kind == "subProcess":
                collect(child, node_id)
        for flow in scope.iter(f"{BPMN}sequenceFlow"):
            source = flow.get("sourceRef")
            if source is not None and source in nodes:
                nodes[source]["out"].append(flow.get("targetRef"))

    collect(process, None)
    for node_id, node in nodes.items():
        if node["kind"] == "boundaryEvent" and node["attached"] in nodes:
            nodes[node["attached"]]["boundaries"].append(node_id)
    starts: dict[str | None, list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        if node["kind"] == "startEvent" and not (node["parent"] and nodes[node["parent"]]["event_sub"]):
            starts[node["parent"]].append(node_id)

    def walk(targets: list[str], seen: set[str]) -> set[str]:
        """Visible tasks (or END) reached from ``targets`` through silent nodes."""
        found: set[str] = set()
        for target in targets:
            if target in seen or target not in nodes:
                continue
            seen.add(target)
            node = nodes[target]
            if node["kind"] in VISIBLE:
                found.add(target)
                # The task may time out or fail instead: its boundary paths start here too.
                found |= walk([b for b in node["boundaries"] if nodes[b]["interrupting"]], seen)
            elif node["kind"] == "subProcess":
                found |= walk(starts[target], seen)
                found |= walk([b for b in node["boundaries"] if nodes[b]["interrupting"]], seen)
            elif node["kind"] == "endEvent":
                parent = node["parent"]
                found |= walk(nodes[parent]["out"], seen) if parent else {END}
            else:
                found |= walk(node["out"], seen)
        return found

    tasks = {node_id for node_id, node in nodes.items() if node["kind"] in VISIBLE}
    follows: dict[str, set[str]] = {START: walk(starts[None], set())}
    for task in tasks:
        node = nodes[task]
        follows[task] = walk(node["out"] + [b for b in node["boundaries"] if not nodes[b]["interrupting"]], set())

    def inside(scope: str) -> set[str]:
        return {t for t in tasks if _within(nodes, t, scope)}

    # Instances of a multi-instance task or subprocess run side by side: any order among them.
    for node_id, node in nodes.items():
        if node["multi"]:
            members = {node_id} if node["kind"] in VISIBLE else inside(node_id)
            for a in members:
                follows[a] |= members
    # Parallel branches interleave; any branch's task may be the last before the region's exits.
    for node_id, node in nodes.items():
        if node["kind"] == "parallelGateway" and len(node["out"]) > 1:
            branches = [walk_region(nodes, target) for target in node["out"]]
            region = set().union(*branches)
            exits = set().union(*(follows[t] for t in region & tasks)) - region
            for i, branch in enumerate(branches):
                others = set().union(*(b for j, b in enumerate(branches) if j != i))
                for a in branch & tasks:
                    follows[a] |= (others & tasks) | exits
    return Footprint(follows, tasks)


def _within(nodes: dict[str, dict[str, Any]], node_id: str, scope: str) -> bool:
    parent = nodes[node_id]["parent"]
    while parent is not None:
        if parent == scope:
            return True
        parent = nodes[parent]["parent"]
    return False


def walk_region(nodes: dict[str, dict[str, Any]], start: str) -> set[str]:
    """Every node reachable from ``start`` in its scope before a parallel join or an end."""
    seen, queue = set(), [start]
    while queue:
        node_id = queue.pop()
        if node_id in seen or node_id not in nodes:
            continue
        node = nodes[node_id]
        if node["kind"] == "parallelGateway" and sum(node_id in n["out"] for n in nodes.values()) > 1:
            continue  # the join
        seen.add(node_id)
        queue.extend(node["out"])
    return seen


@dataclass
class Replay:
    """One case replayed: fitness and the deviations, each ``(kind, task, after)``."""

    matches: int = 0
    deviations: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def fitness(self) -> float:
        return self.matches / (self.matches + len(self.deviations)) if self.matches or self.deviations else 1.0


def replay(model: Footprint, trace: list[str]) -> Replay:
    """Replay the completed tasks ``trace`` (in order) of a finished case on ``model``."""
    result = Replay()
    here = START
    for task in [*trace, END]:
        if model.allows(here, task):
            result.matches += 1
            here = task
            continue
        between = model.path(here, task) if task in model.tasks or task == END else None
        if between is not None:
            result.deviations.extend((SKIPPED, skipped, here) for skipped in between)
            result.matches += 1
            here = task
        elif task == here:
            result.deviations.append((REPEATED, task, here))
        else:
            result.deviations.append((UNEXPECTED, task, here))  # a move on the log only
    return result


def conformance(view: LogView, models: dict[tuple[str, int], Footprint]) -> dict[str, Any]:
    """Every finished (completed) case of the view replayed on its version's footprint.

    Returns ``{"cases": [...], "versions": [...], "deviations": [...]}``: per case its
    fitness and deviations; per version the cases, mean fitness and share that fit
    perfectly; per (kind, task) how many cases show it.
    """
    # The traces as plain pairs in the order of the case's completions; what a case is, once per case.
    about: dict[int, tuple[Any, ...]] = {row[0]: tuple(row[1:]) for row in view.tuples(
        "SELECT instance_id, title, definition_key, definition_version FROM {cases} WHERE status = 'completed'")}
    rows = view.tuples(f"""
        SELECT a.instance_id, a.activity_id FROM {{acts}} a
        WHERE a.t_done IS NOT NULL AND a.activity_type IN ('userTask', 'serviceTask')
        ORDER BY a.instance_id, {', '.join(f'a.{c.strip()}' for c in COMPLETION_ORDER.split(','))}""")
    traces: dict[int, list[str]] = defaultdict(list)
    for instance_id, activity_id in rows:
        if instance_id in about:
            traces[instance_id].append(activity_id)
    cases, per_version, kinds = [], defaultdict(list), Counter()
    for case, trace in traces.items():
        title, key, version = about[case]
        model = models.get((key, version))
        if model is None:
            continue
        result = replay(model, trace)
        cases.append({"instance_id": case, "title": title, "version": version, "fitness": result.fitness,
                      "deviations": result.deviations})
        per_version[(key, version)].append(result.fitness)
        for kind, task in {(k, t) for k, t, _ in result.deviations}:
            kinds[(kind, task)] += 1
    versions = [{"process": key, "version": version, "cases": len(values), "fitness": sum(values) / len(values),
                 "fitting": sum(v == 1.0 for v in values) / len(values)}
                for (key, version), values in sorted(per_version.items())]
    cases.sort(key=lambda c: (c["fitness"], c["instance_id"]))
    return {"cases": cases, "versions": versions,
            "deviations": [{"kind": kind, "activity_id": task, "cases": n}
                           for (kind, task), n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))]}


def version_models(session: Session, process: str | None = None) -> dict[tuple[str, int], Footprint]:
    """The footprint of every deployed version (of ``process``)."""
    query = select(Definition.key, Definition.version, Definition.bpmn_xml)
    if process:
        query = query.where(Definition.key == process)
    return {(key, version): footprint(xml) for key, version, xml in session.execute(query)}


def conformance_report(session: Session, filters: LogFilter | None = None, now: Any = None) -> dict[str, Any]:
    """:func:`conformance` of the cases ``filters`` selects, each on its own diagram version."""
    filters = filters or LogFilter()
    models = version_models(session, filters.process)
    with log_view(session, filters, now=now) as view:
        return conformance(view, models)


__all__ = ["Footprint", "footprint", "Replay", "replay", "conformance", "conformance_report", "version_models",
           "SKIPPED", "REPEATED", "UNEXPECTED"]
