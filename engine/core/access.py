"""Who may see and act on what: roles held in scopes.

The rule: a user sees a task when they hold the lane's role in the instance's scope of that
role's type (a community for the community committee, a town for the town government, an
organization for its staff ...), and, when the diagram assigns the task to a person, only
that person sees it. Administrators hold the ``global`` scope.
"""
from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, or_, select, true
from sqlalchemy.orm import Session

from engine.errors import ConflictError, ForbiddenError, NotFoundError, Text
from engine.core.models import ROLE_SCOPE_TYPE, CatalogItem, Community, Organization, Instance, RoleGrant, Task, Town, User


def scope_for(role: str, town_id: int | None, community_id: int | None,
              organization_id: int | None) -> tuple[str, int]:
    """The (scope_type, scope_id) an instance's task in ``role``'s lane belongs to."""
    scope_type = ROLE_SCOPE_TYPE.get(role, "global")
    scope_id = {"town": town_id, "community": community_id, "organization": organization_id}.get(scope_type, 0)
    return scope_type, scope_id or 0


_GRANTS = select(RoleGrant.role, RoleGrant.scope_type, RoleGrant.scope_id).where(RoleGrant.user_id == bindparam("p_user"))


def grants_of(session: Session, user: User) -> frozenset[tuple[str, str, int]]:
    """The set of (role, scope_type, scope_id) the user holds.

    Read once per transaction and user: a request checks access several times.
    """
    cache = session.info.setdefault("sanshe_grants", {})
    grants = cache.get(user.id)
    if grants is None:
        rows = session.connection().execute(_GRANTS, {"p_user": user.id}).all()
        grants = cache[user.id] = frozenset((row[0], row[1], row[2]) for row in rows)
    return grants


def forget_grants(session: Session) -> None:
    """Grants changed in this transaction: read them again on the next check."""
    session.info.pop("sanshe_grants", None)


def holds(session: Session, user: User, role: str, scope_type: str, scope_id: int | None) -> bool:
    """The user holds ``role`` in the scope."""
    return (role, scope_type, scope_id) in grants_of(session, user)


def holds_or_admin(session: Session, user: User, role: str, scope_type: str, scope_id: int | None) -> bool:
    """The user holds ``role`` in the scope, or is an administrator."""
    grants = grants_of(session, user)
    return (role, scope_type, scope_id) in grants or ("administrator", "global", 0) in grants


def can_see_task(session: Session, user: User, task: Any) -> bool:
    """The task is assigned to the user, or the user holds its role in its scope."""
    if task.assignee is not None:
        return task.assignee == user.username
    return holds(session, user, task.role, task.scope_type, task.scope_id)


def check_task_access(session: Session, user: User | None, task: Any) -> None:
    """Raise NotFoundError for a task the user may not see (its existence is not revealed)."""
    if user is None or not user.active or not can_see_task(session, user, task):
        raise NotFoundError("No such task in your inbox.")


def visible_task(session: Session, user: User | None, task_id: str) -> Task:
    """The task if ``user`` may see it (any state); NotFoundError otherwise."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError("No such task in your inbox.")
    check_task_access(session, user, task)
    return task


def scope_ids(session: Session, user: User) -> dict[str, set[int]]:
    """``{scope type: ids}`` the user holds any role in (``"global"`` for administrators)."""
    ids: dict[str, set[int]] = {}
    for _, scope_type, scope_id in grants_of(session, user):
        ids.setdefault(scope_type, set()).add(scope_id)
    return ids


def scope_condition(session: Session, user: User) -> ColumnElement[bool]:
    """SQL condition: the instance lies in one of the user's scopes (admins see all)."""
    ids = scope_ids(session, user)
    if "global" in ids:
        return true()
    columns = {"town": Instance.town_id, "community": Instance.community_id, "organization": Instance.organization_id}
    conditions = [column.in_(sorted(ids[scope_type])) for scope_type, column in columns.items() if scope_type in ids]
    return or_(*conditions) if conditions else false()


def visible_instance(session: Session, user: User | None, instance_id: int) -> Instance:
    """The instance if it lies in one of the user's scopes; NotFoundError otherwise."""
    if user is None or not user.active:
        raise NotFoundError("No such project in your scope.")
    instance = session.scalar(select(Instance).where(Instance.id == instance_id, scope_condition(session, user)))
    if instance is None:
        raise NotFoundError("No such project in your scope.")
    return instance


def check_can_act(session: Session, user: User, task: Any) -> None:
    """The user may complete the task: it is visible and not claimed by someone else."""
    check_task_access(session, user, task)
    if task.state != "ready":
        raise ConflictError(Text("This task is already %(state)s.", state=task.state))
    if task.claimed_by not in (None, user.username):
        raise ForbiddenError(Text("This task is claimed by %(user)s.", user=task.claimed_by))


def get_user(session: Session, username: str) -> User:
    """The user named ``username`` (NotFoundError if there is none)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(Text("No user named %(name)r.", name=username))
    return user


SCOPE_MODELS = {"town": Town, "community": Community, "organization": Organization}


def find_scope(session: Session, scope_type: str, value: str | int) -> int:
    """The id of the town, community or organization named by its code (or its id)."""
    model = SCOPE_MODELS[scope_type]
    found = session.scalar(select(model.id).where(model.code == value))
    if found is None and str(value).isdigit():
        found = session.scalar(select(model.id).where(model.id == int(value)))
    if found is None:
        raise NotFoundError(Text("No %(kind)s %(code)r.", kind=scope_type, code=value))
    return found


def scope_code(session: Session, scope_type: str, scope_id: int | None) -> str:
    """The code of the town, community or organization ``scope_id`` ("global" has none)."""
    model = SCOPE_MODELS.get(scope_type)
    if model is None or scope_id is None:
        return scope_type
    code = session.scalar(select(model.code).where(model.id == scope_id))
    return f"{scope_type}:{code if code is not None else scope_id}"


def find_catalog_item(session: Session, community_code: str, item_code: str) -> CatalogItem:
    """A community's catalog item by the community's and the item's codes."""
    community_id = find_scope(session, "community", community_code)
    item = session.scalar(select(CatalogItem).where(CatalogItem.community_id == community_id,
                                                    CatalogItem.code == item_code))
    if item is None:
        raise NotFoundError(Text("No catalog item %(code)r in %(community)s.", code=item_code, community=community_code))
    return item
