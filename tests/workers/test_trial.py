"""A trial run drives a draft through a sandbox with a copy of the master data: the real
handlers run, each task names whose inbox it lands in, coverage is reported, and the real
database is not touched."""

from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import Definition, Event, Instance, Job
from tests import diagram_edits as edits
from workers.trial_sandbox import run_trial


def counts(services):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return tuple(session.scalar(select(func.count()).select_from(model)) for model in (Definition, Instance, Job, Event))


def test_a_draft_runs_through_all_seven_steps_in_the_sandbox_and_nothing_real_changes(services, draft):
    _bpmn, forms = draft
    before = counts(services)
    xml = edits.set_param(edits.insert_town_task(edits.original()), "tally_votes", "pass_ratio", "3/4")
    report = run_trial(services.db, {"seven_step_project.bpmn": xml},
                       {**forms, edits.NEW_FORM: edits.NEW_FORM_SCHEMA})
    assert report.problem == "" and report.status == "completed"
    met = {t.bpmn_id: t for t in report.tasks}
    new = met[edits.NEW_TASK]
    assert new.role == "town_government" and new.scope and new.people and new.done_by
    assert "cast_ballot" in met and "score_project" in met
    assert any("计票" in name for name in report.services)
    covered_ids = {i for items in report.covered.values() for i, _ in items}
    assert {edits.NEW_TASK, "tally_votes", "gw_vote_passed"} <= covered_ids
    missed_ids = {i for items in report.missed.values() for i, _ in items}
    assert "decide_failed_vote" in missed_ids  # the happy path passes the vote
    done, total = report.share()
    assert 0 < done < total
    assert counts(services) == before


def test_a_decision_chosen_by_the_administrator_covers_the_other_way(services, draft):
    bpmn, forms = draft
    report = run_trial(services.db, bpmn, forms, {"ballot": "no", "consultation_outcome": "revise"})
    assert {d["name"]: d["chosen"] for d in report.decisions}["ballot"] == "no"
    met = [t.bpmn_id for t in report.tasks]
    # A revision round, a failed vote (redone), then the happy path to the end.
    assert met.count("consultation_meeting") >= 2 and "revise_application" in met
    assert "decide_failed_vote" in met and report.status == "completed"


def test_a_deadline_left_to_expire_is_advanced_to_and_its_way_covered(services, draft):
    bpmn, forms = draft
    report = run_trial(services.db, bpmn, forms, {"timer:cast_ballot": True})
    assert report.timers  # the clock was moved to the voting deadline
    covered = {i for items in report.covered.values() for i, _ in items}
    assert "ballot_deadline" in covered and "decide_failed_vote" in covered
    assert report.status == "completed"
