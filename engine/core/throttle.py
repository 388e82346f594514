"""Growing delays after failed sign-ins, counted per typed account name and per address.

Nobody is locked out: after a few free failures each further one doubles the wait before
the next try, up to a cap. Names that do not exist are counted exactly like real ones, so
the answers never tell whether an account exists.

A try against an account is *reserved* by one atomic ``UPDATE ... WHERE not blocked
RETURNING``: concurrent guesses at one account on PostgreSQL or SQLite cannot slip past its
count, and a successful sign-in gives its reservation back. An address is only *watched*
when the try starts (a blocked address waits) and counted once the password was really
wrong (:func:`fail`, the same atomic update): many people behind one office address signing
in at the same moment are never taken for failures in progress.
"""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.core.models import SignInThrottle

# Failures forgotten after this long without a new one.
QUIET_RESET = timedelta(hours=1)
# Longest a key may be (longer typed names are cut; the column holds 200 characters).
MAX_KEY = 200


@dataclass(frozen=True)
class Limit:
    """``free`` failures cost nothing; the next waits 1 s, then 2 s, 4 s ... at most ``max_delay``."""
    free: int
    max_delay: float

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row."""
        if failures <= self.free:
            return 0.0
        # The exponent is bounded: 2.0 ** 1100 would overflow.
        return min(2.0 ** min(failures - self.free - 1, 64), self.max_delay)

    def steps(self) -> int:
        """Failures after which the delay no longer grows."""
        count = self.free + 1
        while self.delay_after(count) < self.max_delay:
            count += 1
        return count


def account_key(username: str) -> str:
    """The throttle key of a typed account name (case-folded, whether it exists or not)."""
    return ("account:" + (username or "").strip().casefold())[:MAX_KEY]


def address_key(address: str | None) -> str:
    """The throttle key of a client address."""
    return ("address:" + (address or "unknown"))[:MAX_KEY]


def reserve(session: Session, limits: dict[str, Limit], now: datetime, watched: Iterable[str] = ()) -> float:
    """Count one more try against each key of ``limits``; ``0`` when it may go ahead, else the
    seconds to wait. The ``watched`` keys are only checked (a blocked one makes the try wait).

    The try counts as a failure until :func:`forgive` gives it back. When any key is
    blocked nothing is counted (waiting tries do not lengthen the wait).
    """
    rows = session.execute(select(SignInThrottle.key, SignInThrottle.blocked_until)
                           .where(SignInThrottle.key.in_([*limits, *watched]))).all()
    waits = [(until - now).total_seconds() for _, until in rows if until is not None and until > now]
    if waits:
        return max(waits)
    for key, limit in limits.items():
        _insert_missing(session, key, now)
        counted = session.execute(_count_statement(key, limit, now)).first()
        if counted is None:
            # Someone else's failure blocked it between our read and our update.
            until = session.scalar(select(SignInThrottle.blocked_until).where(SignInThrottle.key == key))
            return max((until - now).total_seconds(), 0.1) if until else 0.1
    return 0.0


def forgive(session: Session, account: str) -> None:
    """A try succeeded: the account's count starts over (an address's count stays: a right
    password of one's own must not wipe out guesses at other people's)."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.key == account))


def fail(session: Session, limits: dict[str, Limit], now: datetime) -> None:
    """A try with a wrong password: count it against each watched key of ``limits``.

    One atomic update per key, so concurrent failures are all counted; a key blocked
    meanwhile is left as it is (a try during the wait does not lengthen it).
    """
    for key, limit in limits.items():
        _insert_missing(session, key, now)
        session.execute(_count_statement(key, limit, now))


def failures(session: Session, key: str) -> int:
    """Failures counted against ``key`` (0 when none)."""
    return session.scalar(select(SignInThrottle.failures).where(SignInThrottle.key == key)) or 0


def _insert_missing(session: Session, key: str, now: datetime) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(SignInThrottle).values(key=key, failures=0, last_failure_at=now)
                    .on_conflict_do_nothing(index_elements=["key"]))


def _count_statement(key: str, limit: Limit, now: datetime):
    row = SignInThrottle
    # The new count and its delay computed inside the one UPDATE, so that two concurrent
    # tries cannot both read the old count (the lost update the lock-out used to suffer).
    count = case((row.last_failure_at < now - QUIET_RESET, 1), else_=row.failures + 1)
    whens = [(count == n, now + timedelta(seconds=limit.delay_after(n)))
             for n in range(limit.free + 1, limit.steps())]
    blocked = case((count <= limit.free, null()), *whens, else_=now + timedelta(seconds=limit.max_delay))
    return (update(row).where(row.key == key, or_(row.blocked_until.is_(None), row.blocked_until <= now))
            .values(failures=count, last_failure_at=now, blocked_until=blocked).returning(row.failures))
