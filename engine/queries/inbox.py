"""The inbox: which human tasks a person sees, filtered, sorted, paged and counted per step.

Two views:
- ``mine``: ready tasks claimed by the person or assigned to them by the diagram;
- ``open``: ready tasks in a lane whose role the person holds in the instance's scope,
  unassigned or assigned to them.

The ``open`` list runs one index-ordered query per role grant (``ix_tasks_inbox``:
state, role, scope_type, scope_id, created_at; ``ix_tasks_inbox_due`` for the due-date
sort), each limited to the page end, and merges them in one statement, so the first page
costs the same with 100 or 100,000 open tasks. Counts per step use the covering index
``ix_tasks_inbox_step``, all steps and grants in one statement.
"""
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import defer, Session

from engine.core.access import grants_of, visible_task  # noqa: F401  (part of the inbox API)
from engine.errors import Text, ValidationError
from engine.core.models import Community, Definition, Instance, Organization, Task, utcnow, User

VIEWS = ("mine", "open")
SORTS = ("newest", "oldest", "due", "step")
MAX_PER_PAGE = 100
COUNT_CAP = 1000


@dataclass
class InboxFilter:
    """What the person asked for; every field is optional."""
    view: str = "open"
    process: str | None = None  # definition key
    step: int | None = None
    community_id: int | None = None
    organization_id: int | None = None
    sort: str = "newest"
    page: int = 1
    per_page: int = 25
    # Where the previous page ended (``InboxPage.next_after``): the ``open`` view then reads
    # on from there through the index instead of skipping (page - 1) * per_page rows.
    after: str | None = None

    def __post_init__(self):
        errors = {}
        if self.view not in VIEWS:
            errors["view"] = [f"One of {', '.join(VIEWS)}."]
        if self.sort not in SORTS:
            errors["sort"] = [f"One of {', '.join(SORTS)}."]
        if self.step is not None and not 1 <= self.step <= 7:
            errors["step"] = ["A step from 1 to 7."]
        if not 1 <= self.page <= MAX_PAGE:
            errors["page"] = [f"From 1 to {MAX_PAGE}."]
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            errors["per_page"] = [f"From 1 to {MAX_PER_PAGE}."]
        if self.after is not None and not errors:
            try:
                self.cursor = _parse_cursor(self.sort, self.after)
            except ValueError:
                errors["after"] = ["Not a position in this list; start from page 1."]
        if errors:
            raise ValidationError("Invalid inbox filter.", errors=errors)


@dataclass
class InboxItem:
    task: Task
    instance_title: str
    community_name: str
    organization_name: str
    overdue: bool


@dataclass
class InboxPage:
    items: list[InboxItem]
    total: int
    counts_by_step: dict[int | None, int]
    page: int
    per_page: int
    filter: InboxFilter | None = field(repr=False, default=None)
    has_next: bool = False
    next_after: str | None = None  # the cursor for the next page's link (open view)
    # How many tasks the other view holds (up to COUNT_CAP), when asked for with ``other_view``.
    other_total: int | None = None

    @property
    def capped(self) -> bool:
        """The total is a lower bound (some step has at least COUNT_CAP tasks)."""
        return any(count >= COUNT_CAP for count in self.counts_by_step.values())

    @property
    def pages(self) -> int:
        return max(self.page, -(-self.total // self.per_page))


def _order(sort: str, table: Any = Task) -> tuple[Any, ...]:
    if sort == "newest":
        return table.created_at.desc(), table.id.desc()
    if sort == "oldest":
        return table.created_at.asc(), table.id.asc()
    if sort == "due":  # tasks without a due date come last
        return table.due_at.is_(None), table.due_at.asc(), table.created_at.desc(), table.id.desc()
    # Tasks without a step come last (SQLite would put NULL first).
    return table.step.is_(None), table.step.asc(), table.created_at.desc(), table.id.desc()


def _parse_cursor(sort, token):
    """(rank, created_at, id) from a cursor token; ValueError if it is not one.

    rank: None (newest, oldest), the due date or None (due), the step or None (step).
    """
    rank, created, task_id = token.split("~", 2)
    if not task_id:
        raise ValueError(token)
    if sort in ("newest", "oldest"):
        if rank:
            raise ValueError(token)
        rank = None
    elif sort == "due":
        rank = datetime.fromisoformat(rank) if rank else None
    else:
        rank = int(rank) if rank else None
    return rank, datetime.fromisoformat(created), task_id


def _cursor_token(sort, task):
    rank = {"due": task.due_at, "step": task.step}.get(sort)
    rank = "" if rank is None else rank.isoformat() if isinstance(rank, datetime) else str(rank)
    return f"{rank}~{task.created_at.isoformat()}~{task.id}"


def _keyset(flt):
    """The cursor if the page can start from it: only the open view's index-ordered parts."""
    return getattr(flt, "cursor", None) if flt.after and flt.view == "open" else None


# The seven steps, then tasks without a step (which sort after step 7).
STEPS = (1, 2, 3, 4, 5, 6, 7, None)
NO_STEP_RANK = 8


def _step_is(step):
    return Task.step == step if step else Task.step.is_(None)


def _cursor_kind(sort, cursor):
    """What of the cursor shapes the statement: dated or not (due), its step (step)."""
    if cursor is None:
        return None
    if sort == "due":
        return "dated" if cursor[0] is not None else "undated"
    if sort == "step":
        return cursor[0] or NO_STEP_RANK
    return "plain"


def _after_condition(kind, cursor_kind):
    """Rows of a part that come after the cursor in the merged order; None: all of them;
    False: none of them."""
    c, i = bindparam("after_created"), bindparam("after_id")
    newer = and_(Task.created_at <= c, or_(Task.created_at < c, Task.id < i))
    if kind == "oldest":
        return and_(Task.created_at >= c, or_(Task.created_at > c, Task.id > i))
    if kind == "newest":
        return newer
    if kind == "dated":
        if cursor_kind == "undated":
            return False
        d = bindparam("after_due")
        return and_(Task.due_at >= d, or_(Task.due_at > d, Task.created_at < c, and_(Task.created_at == c, Task.id < i)))
    if kind == "undated":
        return None if cursor_kind == "dated" else newer
    step = kind[1] or NO_STEP_RANK  # ("step", n)
    return None if step > cursor_kind else newer if step == cursor_kind else False


@dataclass(frozen=True)
class _Shape:
    """What a view's statements look like apart from their parameter values.

    Statements are built once per shape (``lru_cache``) with named parameters: building
    and cache-keying a union of dozens of ranges costs more than running it.
    """
    view: str
    grants: int
    step: bool
    community: bool
    organization: bool
    process: bool


def _shape_and_params(session, user, flt, with_step=True):
    params = {"username": user.username, "step": flt.step, "community_id": flt.community_id,
              "organization_id": flt.organization_id, "process": flt.process}
    grants = sorted(grants_of(session, user)) if flt.view == "open" else []
    for i, (role, scope_type, scope_id) in enumerate(grants):
        params.update({f"role_{i}": role, f"scope_type_{i}": scope_type, f"scope_id_{i}": scope_id})
    shape = _Shape(flt.view, len(grants), with_step and flt.step is not None, flt.community_id is not None,
                   flt.organization_id is not None, bool(flt.process))
    return shape, params


def _common_filters(shape):
    conditions = [Task.state == "ready"]
    if shape.step:
        conditions.append(Task.step == bindparam("step"))
    if shape.community:
        conditions.append(Task.community_id == bindparam("community_id"))
    if shape.organization:
        conditions.append(Task.organization_id == bindparam("organization_id"))
    if shape.process:
        conditions.append(Task.definition_id.in_(select(Definition.id).where(Definition.key == bindparam("process"))))
    return conditions


def _branches(shape):
    """The WHERE clauses whose union is the view; each one can use a single index.

    ``mine``: claimed by the person, or assigned to them and not claimed by them. ``open``:
    per role grant, the lane's role in that scope, unassigned or assigned to the person.
    """
    base = _common_filters(shape)
    me = bindparam("username")
    if shape.view == "mine":
        return [and_(*base, Task.claimed_by == me),
                and_(*base, Task.assignee == me, or_(Task.claimed_by.is_(None), Task.claimed_by != me))]
    return [and_(*base, Task.role == bindparam(f"role_{i}"), Task.scope_type == bindparam(f"scope_type_{i}"),
                 Task.scope_id == bindparam(f"scope_id_{i}"), or_(Task.assignee.is_(None), Task.assignee == me))
            for i in range(shape.grants)]


def inbox_page(session: Session, user: User, flt: InboxFilter | None = None, now: datetime | None = None,
               other_view: str | None = None) -> InboxPage:
    """The tasks ``user`` sees under ``flt``, one page of them, with counts per step; with
    ``other_view`` also how many tasks that view holds (``other_total``, as :func:`count_tasks`
    gives it), counted in the same statement as the steps."""
    flt = flt or InboxFilter()
    now = now or utcnow()
    if user is None or not user.active:
        return InboxPage([], 0, {}, flt.page, flt.per_page, flt, other_total=0 if other_view else None)
    counts, other_total = _counts(session, user, flt, COUNT_CAP, other_view)
    total = counts.get(flt.step, 0) if flt.step is not None else sum(counts.values())
    ids = _page_ids(session, user, flt)
    more = len(ids) > flt.per_page
    items = _items(session, ids[:flt.per_page], now)
    after = _cursor_token(flt.sort, items[-1].task) if more and items and flt.view == "open" else None
    return InboxPage(items, total, counts, flt.page, flt.per_page, flt, more, after, other_total)


def _sorted_parts(shape, sort):
    """(where, order) pairs, each one a range of an index read in index order.

    In the ``open`` view (up to 100,000 tasks per grant) two sorts are split so that no
    part needs a sort key the index cannot give: the due-date sort puts tasks without a
    due date last (``due_at IS NULL`` as a key would defeat ``ix_tasks_inbox_due``), so
    each grant has a dated and an undated part; the step sort (step ascending, newest
    first within a step) has one part per step over ``ix_tasks_inbox_step``. The ``mine``
    view is small (claimed or assigned tasks) and sorts in one go.
    """
    branches = _branches(shape)
    if shape.view != "open" or sort in ("newest", "oldest") or (sort == "step" and shape.step):
        if sort == "step" and shape.view == "open":  # one step: newest first within it
            return [(branch, _order("newest"), "newest") for branch in branches]
        return [(branch, _order(sort), "oldest" if sort == "oldest" else "newest") for branch in branches]
    newest = (Task.created_at.desc(), Task.id.desc())
    if sort == "step":
        return [(and_(branch, _step_is(step)), newest, ("step", step)) for branch in branches for step in STEPS]
    dated = (Task.due_at.asc(), *newest)
    return [part for branch in branches
            for part in ((and_(branch, Task.due_at.is_not(None)), dated, "dated"),
                         (and_(branch, Task.due_at.is_(None)), newest, "undated"))]


@lru_cache(maxsize=256)
def _page_statement(shape, sort, cursor_kind=None):
    parts = []
    for where, order, kind in _sorted_parts(shape, sort):
        after = _after_condition(kind, cursor_kind) if cursor_kind else None
        if after is not False:
            parts.append((where if after is None else and_(where, after), order))
    if not parts:
        return None
    if len(parts) == 1:
        where, order = parts[0]
        return select(Task.id).where(where).order_by(*order).offset(bindparam("offset")).limit(bindparam("limit"))
    # Each part is sorted by its own index and cut at the page end; the merge sorts at
    # most len(parts) * end rows. Only the columns the merge sorts on.
    columns = {"due": (Task.id, Task.created_at, Task.due_at), "step": (Task.id, Task.created_at, Task.step)}.get(
        sort, (Task.id, Task.created_at))
    subs = [select(*columns).where(where).order_by(*order).limit(bindparam("end")).subquery() for where, order in parts]
    merged = union_all(*[select(*sub.c) for sub in subs]).subquery()
    return select(merged.c.id).order_by(*_order(sort, merged.c)).offset(bindparam("offset")).limit(bindparam("limit"))


def _page_ids(session, user, flt):
    shape, params = _shape_and_params(session, user, flt)
    cursor = _keyset(flt)
    statement = _page_statement(shape, flt.sort, _cursor_kind(flt.sort, cursor))
    if statement is None:
        return []
    # One row past the page tells whether a next page exists (counts are capped).
    if cursor:
        rank, created, task_id = cursor
        params.update(after_due=rank, after_created=created, after_id=task_id, end=flt.per_page + 1, offset=0)
    else:
        params.update(end=flt.page * flt.per_page + 1, offset=(flt.page - 1) * flt.per_page)
    params.update(limit=flt.per_page + 1)
    return list(session.scalars(statement, params))


def _items(session, ids, now):
    if not ids:
        return []
    rows = session.execute(
        # The submitted data and drafts (JSON, possibly large) are not shown in the list.
        select(Task, Instance.title, Community.name, Organization.name).options(defer(Task.draft), defer(Task.data))
        .join(Instance, Instance.id == Task.instance_id)
        .outerjoin(Community, Community.id == Task.community_id)
        .outerjoin(Organization, Organization.id == Task.organization_id)
        .where(Task.id.in_(ids))
    ).all()
    by_id = {row[0].id: row for row in rows}
    return [
        InboxItem(task, title or "", community or "", organization or "",
                  overdue=overdue(task, now))
        for task, title, community, organization in (by_id[i] for i in ids if i in by_id)
    ]


def _capped_count(where, cap, label):
    """SELECT label, count(*) over at most ``cap`` index entries matching ``where``.

    The inner SELECT names a constant, not a column, so that SQLite reads the index only
    (``tasks.id`` is not in it: the index holds the rowid).
    """
    return select(literal(label).label("label"), func.count().label("n")).select_from(
        select(literal_column("1")).select_from(Task).where(where).limit(cap).subquery())


# The label of the other view's rows in the statement of step counts (steps are 0 to 7).
OTHER_VIEW = -1


@lru_cache(maxsize=256)
def _step_count_statement(shape, cap, other=None):
    parts = [_capped_count(and_(branch, _step_is(step)), cap, step or 0) for branch in _branches(shape) for step in STEPS]
    if other is not None:
        parts += [_capped_count(branch, cap, OTHER_VIEW) for branch in _branches(other)]
    return union_all(*parts) if parts else None


def step_counts(session: Session, user: User, flt: InboxFilter | None = None, cap: int = COUNT_CAP) -> dict[int | None, int]:
    """{step: number of tasks} in the view, ignoring the step filter (the tabs show all).

    Each step's count stops at ``cap`` (shown as "1000+"): counting 100,000 index entries
    on every page view would cost more than the rest of the page, and nobody acts on the
    exact figure. One statement: per grant and step a LIMITed range of
    ``ix_tasks_inbox_step``.
    """
    return _counts(session, user, flt or InboxFilter(), cap)[0]


def _counts(session, user, flt, cap, other_view=None):
    """(step counts of ``flt``'s view, the other view's count or None): one statement.

    Every statement is a round trip to PostgreSQL, which under load costs a request more
    than the counting itself."""
    shape, params = _shape_and_params(session, user, flt, with_step=False)
    other = None
    if other_view is not None:
        other, other_params = _shape_and_params(session, user, InboxFilter(view=other_view), with_step=False)
        params = {**other_params, **params}  # the same person and grants: shared names agree
    statement = _step_count_statement(shape, cap, other)
    counts: dict[int | None, int] = {}
    other_total = 0
    if statement is not None:
        for label, count in session.execute(statement, params):
            if label == OTHER_VIEW:
                other_total = min(cap, other_total + count)
            elif count:
                counts[label or None] = min(cap, counts.get(label or None, 0) + count)
    return counts, (other_total if other_view is not None else None)


@lru_cache(maxsize=256)
def _count_statement(shape, cap):
    parts = [_capped_count(branch, cap, 0) for branch in _branches(shape)]
    return union_all(*parts) if parts else None


def count_tasks(session: Session, user: User, view: str, cap: int = COUNT_CAP) -> int:
    """How many tasks a view holds, up to ``cap`` (for the other tab's badge)."""
    shape, params = _shape_and_params(session, user, InboxFilter(view=view), with_step=False)
    statement = _count_statement(shape, cap)
    if statement is None:
        return 0
    return min(cap, sum(count for _, count in session.execute(statement, params)))


def overdue(task: Task, now: datetime | None = None) -> bool:
    return task.state == "ready" and task.due_at is not None and task.due_at < (now or utcnow())


# Largest id or number a query may carry: most id columns are 32-bit INTEGER on PostgreSQL,
# which refuses a larger value with an error instead of finding nothing.
MAX_ID = 2**31 - 1
# Highest page number a list accepts (its offset must stay inside the database's integers).
MAX_PAGE = 1_000_000


def parse_int(value: Any) -> int | None:
    """An int from a query-string value, None for empty; ValidationError for junk."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        message = Text("Not a number: %(value)r", value=str(value)[:40])
        raise ValidationError(message, errors={"": [message]}) from exc
    if abs(number) > MAX_ID:
        message = Text("The number %(value)s is out of range.", value=str(value)[:40])
        raise ValidationError(message, errors={"": [message]})
    return number


def parse_page(value: Any) -> int:
    """A page number from a query-string value: 1 when empty; ValidationError when junk or out of range."""
    page = parse_int(value)
    if page is None:
        return 1
    if not 1 <= page <= MAX_PAGE:
        message = Text("Page %(value)s does not exist.", value=str(value)[:40])
        raise ValidationError(message, errors={"page": [message]})
    return page


__all__ = ["InboxFilter", "InboxItem", "InboxPage", "inbox_page", "step_counts", "count_tasks", "visible_task", "overdue",
           "parse_int", "parse_page"]
