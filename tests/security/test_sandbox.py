"""Diagram code runs in sandbox processes: a script that would hold the engine in one C call
or eat the server's memory is stopped within its limit, it cannot read the environment,
and while it runs another community's project goes on (SQLite and PostgreSQL)."""
import os
import threading
import time

import pytest

from engine.core.models import CatalogItem, Community, Instance, Job, User
from engine.core.deployments import deploy
from engine.core.jobs import JobQueue
from engine.core.sandbox import SandboxPool
from engine.core.scripting import ScriptLimitError, ScriptRejected, ScriptTimeout, SandboxedEnvironment
from tests.workers.conftest import DATA, World, db, pg_db, sqlite_db  # noqa: F401
from workers.registry import TOPICS
from workers.worker import Worker

LIMIT = 1.0
# The time limit, the wall-clock grace and a margin for a machine shared by many.
STOPPED_WITHIN = LIMIT + 1.5


@pytest.fixture(scope="module")
def pool():
    os.environ["SANSHE_SECRET_KEY"] = "a-secret-the-sandbox-must-not-see-" + "x" * 16
    try:
        sandboxes = SandboxPool(size=2, memory_mb=256)
        sandboxes.warm()
    finally:
        del os.environ["SANSHE_SECRET_KEY"]
    yield sandboxes
    sandboxes.close()


@pytest.fixture
def env(pool):
    return SandboxedEnvironment(pool, timeout=LIMIT)


def _stopped(env, script, error):
    started = time.monotonic()
    with pytest.raises(error) as raised:
        env.execute(script, {})
    elapsed = time.monotonic() - started
    assert elapsed < STOPPED_WITHIN, f"{script!r} ran {elapsed:.1f} s"
    return str(raised.value)


def test_a_huge_decimal_conversion_is_stopped_within_the_time_limit(env):
    # One C call of 20-30 s: no trace sees it; the wall-clock kill does.
    assert "stopped" in _stopped(env, 'x = int(Decimal("1e700000"))', ScriptTimeout)


def test_a_replace_bomb_is_stopped_by_the_memory_limit(env):
    assert "256 MB" in _stopped(env, 's = "a" * 100000\nt = s.replace("a", s)', ScriptLimitError)


def test_a_list_extending_itself_is_stopped_by_the_memory_limit(env):
    _stopped(env, "l = [1] * 1000\nl.extend(map(abs, l))", (ScriptLimitError, ScriptTimeout))


def test_to_bytes_is_refused_before_any_process_runs_it(env, pool):
    before = pool.idle_pids()
    _stopped(env, "x = (0).to_bytes(3 * 10**8)", ScriptRejected)
    assert pool.idle_pids() == before


@pytest.mark.parametrize("script", [
    "x = __import__('os').environ['SANSHE_SECRET_KEY']",
    "x = [c for c in ().__class__.__base__.__subclasses__()]",
    "x = open('/proc/self/environ').read()",
])
def test_reading_the_environment_is_refused(env, script):
    data = {}
    with pytest.raises(ScriptRejected):
        env.execute(script, data)
    assert "x" not in data


def test_sandbox_processes_hold_no_secret_and_no_database_handle(env, pool):
    assert env.evaluate("1 + 1", {}) == 2
    for pid in pool.idle_pids():
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environment = handle.read().split(b"\0")
        assert not [v for v in environment if v.startswith(b"SANSHE")], environment
        # stdin, stdout, stderr and the answer pipe: no socket, no database file.
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert all(t.startswith(("pipe:", "/dev/null")) for t in targets), targets


def test_the_sandbox_gives_back_task_data_a_script_changed(env):
    data = {"votes": [1, 0, 1], "deadline": None}
    env.execute("from_votes = sum(votes)\nexact = Fraction(from_votes, len(votes))\n"
                "deadline = datetime(2026, 1, 1) + timedelta(days=7)\nhelper = lambda: 1", data)
    assert data["from_votes"] == 2 and str(data["exact"]) == "2/3" and data["deadline"].day == 8
    assert "helper" not in data
    assert env.evaluate("exact > Fraction(1, 2) and deadline.year == 2026", data) is True


def _runaway_diagram():
    xml = (DATA / "earmark_batch.bpmn").read_text(encoding="utf-8")
    # The notify job's message is computed when the earmark job completes: the script runs
    # in the worker's transaction. A project titled "1e700000" makes it run away.
    return xml.replace('id="earmark_batch"', 'id="runaway_batch"').replace(
        '''value="'Funds earmarked: ' + earmark['amount']"''',
        '''value="'Funds earmarked: ' + str(int(Decimal(project['title'])))"''')


def test_a_runaway_script_is_an_incident_while_another_communitys_project_goes_on(db):
    world = World(db, job_retries=1, script_timeout=LIMIT)
    try:
        with db.uow() as session:
            deploy(session, world.services.runtime.spec_cache, {"runaway_batch.bpmn": _runaway_diagram()}, {}, "admin")
            other = Community(code="yancheng", name="盐城社区", name_en="Yancheng", town_id=world.seed.town_id)
            session.add(other)
            session.flush()
            item = CatalogItem(community_id=other.id, year=2014, code="elderly_b", name="居家养老服务",
                               service_field="elderly")
            session.add(item)
            session.flush()
            lead = session.get(User, world.seed.users["lead"])
            runtime = world.services.runtime
            runaway = runtime.start_instance(session, "runaway_batch", lead, {
                "title": "1e700000", "catalog_item_id": world.seed.item_ids["elderly_care"],
                "organization_id": world.seed.org_ids["sunshine"], "budget_total": "10"}).id
            calm = runtime.start_instance(session, "runaway_batch", lead, {
                "title": "5", "catalog_item_id": item.id, "organization_id": world.seed.org_ids["sunshine"],
                "budget_total": "10"}).id
        queue = JobQueue(world.services.settings, world.services.runtime)
        with db.uow() as session:
            locked = {job.instance_id: job for job in queue.fetch_and_lock(session, ["funds_earmark"], "w", 5)}
        worker = Worker(db.session_factory, queue, {"funds_earmark": TOPICS["funds_earmark"]}, "w")
        took = {}

        def process(instance_id):
            started = time.monotonic()
            took[instance_id] = (worker.process(locked[instance_id]), time.monotonic() - started)

        thread = threading.Thread(target=process, args=(runaway,))
        thread.start()
        time.sleep(0.2)  # the runaway script is running now
        process(calm)
        thread.join(30)
        assert took[calm][0] == "completed" and took[calm][1] < STOPPED_WITHIN + 1.0, took
        assert took[runaway][0] == "failed" and took[runaway][1] < STOPPED_WITHIN, took
        with db.uow(readonly=True) as session:
            job = session.get(Job, locked[runaway].id)
            assert job.state == "incident" and "stopped" in job.error_message
            assert session.get(Instance, runaway).status == "running"
            told = session.query(Job).filter(Job.instance_id == calm, Job.topic == "notify").one()
            assert told.variables["params"]["message"] == "Funds earmarked: 5"
    finally:
        world.close()


def test_plain_conditions_run_without_a_round_trip_and_stay_size_guarded(pool):
    # Conditions that only compare and pick values (most of a diagram's) run in the engine's
    # process: no call, no loop, so nothing there can reach what the sandbox keeps away.
    closed = SandboxPool(size=1, memory_mb=64)
    closed.close()
    env = SandboxedEnvironment(closed, timeout=LIMIT)
    assert env.evaluate('project["social_work"] == True and n + 1 > 2', {"project": {"social_work": True}, "n": 2})
    with pytest.raises(ScriptLimitError):
        env.execute("twice = big + big", {"big": "a" * 600_000})


def test_a_substring_search_goes_to_the_sandbox(env):
    # `in` on long texts is one long C call: it is not plain code, the sandbox's limits hold.
    from engine.core.restricted import is_plain
    assert not is_plain("needle in haystack", "eval")
    assert env.evaluate("'b' in text", {"text": "a" * 1000 + "b"}) is True
