"""Recently used workflows kept in memory, and the after-commit hook that fills the cache.

Loading an instance costs a deserialization; a workflow that was just saved is already in
memory. The cache is checked against the row's optimistic lock version, so a copy that
another process changed since is never used.
"""
from collections import OrderedDict
from collections.abc import Callable, Generator
from contextlib import contextmanager
from threading import Lock
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction


class HotInstances:
    """Recently used workflows kept in memory, checked against the row's lock version.

    A workflow is taken out while a transaction changes it and put back only after that
    transaction commits, so a rolled-back change never leaks into the cache. A workflow the
    cache lets go of (beyond the capacity, out of date, dropped) is handed to ``release``,
    which may free it at once: nobody else holds it.
    """

    def __init__(self, capacity: int = 2000, release: Callable[[Any], object] | None = None) -> None:
        self.capacity = capacity
        self.release = release
        self._items: OrderedDict[int, tuple[int, Any, Any]] = OrderedDict()
        self._lock = Lock()

    def take(self, instance_id: int, lock_version: int) -> tuple[Any, Any]:
        """``(workflow, open_tasks)`` if the cached copy is current, else ``(None, None)``."""
        with self._lock:
            entry = self._items.pop(instance_id, None)
        if entry is None:
            return None, None
        if entry[0] == lock_version:
            return entry[1], entry[2]
        self._let_go([entry])
        return None, None

    def put(self, instance_id: int, lock_version: int, workflow: Any, open_tasks: Any = None) -> None:
        """Keep ``workflow`` (and its open tasks) as of ``lock_version``; the least recently
        used beyond the capacity are let go (with a capacity of 0, ``workflow`` itself)."""
        with self._lock:
            replaced = self._items.pop(instance_id, None)
            self._items[instance_id] = (lock_version, workflow, open_tasks)
            gone = [replaced] if replaced is not None and replaced[1] is not workflow else []
            while len(self._items) > self.capacity:
                gone.append(self._items.popitem(last=False)[1])
        self._let_go(gone)

    def drop(self, instance_id: int) -> None:
        """Forget the instance's workflow."""
        with self._lock:
            entry = self._items.pop(instance_id, None)
        if entry is not None:
            self._let_go([entry])

    def _let_go(self, entries: list[tuple[int, Any, Any]]) -> None:
        if self.release is not None:
            for _, workflow, _ in entries:
                self.release(workflow)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the unit of work has not committed yet
    for callback in session.info.pop("sanshe_after_commit", []):
        callback()


def _after_rollback(session: Session) -> None:
    session.info.pop("sanshe_after_commit", None)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    # A savepoint's rollback fires this too; :func:`savepoint` drops only its own callbacks.
    if not previous.nested:
        _after_rollback(session)


sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_soft_rollback", _after_soft_rollback)


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault("sanshe_after_commit", []).append(callback)


@contextmanager
def savepoint(session: Session) -> Generator[Session, None, None]:
    """Part of a unit of work that can fail alone: on an error, what was written inside is
    rolled back (and its after-commit callbacks dropped) while the rest of the unit stays."""
    kept = len(session.info.setdefault("sanshe_after_commit", []))
    try:
        with session.begin_nested():
            yield session
    except BaseException:
        del session.info.setdefault("sanshe_after_commit", [])[kept:]
        raise
