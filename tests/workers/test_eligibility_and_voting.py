"""Step 1 eligibility and step 4 voting: the rules refuse what the method forbids."""
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from engine.method import voting
from engine.errors import ValidationError
from engine.core.models import Notification
from engine.method.models import Decision

from .helpers import project_of, run_job


def test_eligibility_lists_reasons_per_organization(db, queue, seed):
    outcome, result, _ = run_job(db, queue, seed, "eligibility_check")
    assert outcome == "completed" and result["eligible"] is True
    by_code = {row["name"]: row for row in result["organizations"]}
    assert by_code["停办协会"]["reasons"] == ["not active"]
    assert by_code["未登记团队"]["reasons"] == ["not registered"]
    assert "do not cover 'elderly'" in by_code["和谐调解协会"]["reasons"][0]
    assert result["eligible_ids"] == [seed.org_ids["sunshine"]]


def test_an_organization_at_its_project_limit_is_not_eligible(db, queue, seed):
    with db.uow() as session:
        other = [seed.new_instance(session) for _ in range(2)]  # sunshine's limit is 2
    outcome, result, _ = run_job(db, queue, seed, "eligibility_check")
    assert result["eligible"] is False
    assert result["reasons"] == ["already runs 2 projects (limit 2)"]
    with db.uow() as session:
        seed.new_instance(session, status="completed")
    assert other  # finished projects do not count; the current one never counts against itself


def test_roster_recuses_the_lead_and_the_applicants_people(db, queue, seed):
    _, roster, _ = run_job(db, queue, seed, "vote_roster", project=project_of(seed, lead="rep1"))
    assert roster["members"] == 7
    assert "rep1" not in roster["voters"] and "rep9" not in roster["voters"]
    assert {r["username"]: r["reason"] for r in roster["recused"]} == {
        "rep1": "project lead", "rep9": "affiliated with the applicant"}


VOTERS = [f"v{i}" for i in range(9)]


def ballots(yes, no=0, abstain=0):
    votes = ["yes"] * yes + ["no"] * no + ["abstain"] * abstain
    return [{"voter": v, "vote": c} for v, c in zip(VOTERS, votes)]


@pytest.mark.parametrize("quorum", ["2/3", 2 / 3, Fraction(2, 3)])
def test_exactly_two_thirds_present_is_not_a_quorum(quorum):
    assert voting.tally(VOTERS, ballots(6), quorum)["valid"] is False  # 6 of 9 is not MORE than 2/3
    assert voting.tally(VOTERS, ballots(7), quorum)["valid"] is True


def test_exactly_half_of_those_present_does_not_pass():
    assert voting.tally(VOTERS, ballots(4, 4))["passed"] is False
    assert voting.tally(VOTERS, ballots(4, 3, 1))["passed"] is False
    result = voting.tally(VOTERS, ballots(5, 3))
    assert (result["valid"], result["passed"], result["present"]) == (True, True, 8)


def test_ballots_of_recused_outsiders_and_repeat_voters_do_not_count():
    votes = ballots(3, 4) + [{"voter": "lead", "vote": "yes"}, {"voter": "v0", "vote": "no"},
                             {"voter": "v7", "vote": "absent"}]
    result = voting.tally(VOTERS, votes)
    assert (result["yes"], result["no"], result["present"]) == (3, 4, 7)
    assert len(result["ignored"]) == 2


def test_ratios_come_from_the_diagram_and_must_be_sane():
    assert voting.tally(VOTERS, ballots(5, 2), "1/2", "3/4")["passed"] is False
    with pytest.raises(ValidationError):
        voting.tally(VOTERS, ballots(5), "1.5")


def test_tally_is_recorded_and_announced_once(db, queue, seed):
    votes = [{"voter": f"rep{i}", "vote": "yes" if i < 6 else "no"} for i in range(1, 10)]
    outcome, result, job_id = run_job(db, queue, seed, "vote_tally", params={"ballots": votes})
    # rep9 is recused: 8 members, 8 present, 5 yes (rep1..rep5), 3 no (rep6..rep8).
    assert (result["members"], result["present"], result["yes"], result["passed"]) == (8, 8, 5, True)
    assert result["round"] == 1 and "passed" in result["announcement"]
    with db.uow() as session:
        again = voting.record_tally(session, job_id, seed.instance_id, [], [], [], "2/3", "1/2", None)
    assert again == result
    with db.uow(readonly=True) as session:
        told = session.scalars(select(Notification.username)).all()
        assert sorted(told) == sorted([f"rep{i}" for i in range(1, 10)] + ["chair"])
        assert session.scalar(select(func.count()).select_from(Decision)) == 1
    _, redo, _ = run_job(db, queue, seed, "vote_tally", params={"ballots": votes[:5]})
    assert (redo["round"], redo["valid"], redo["outcome"]) == (2, False, "invalid (no quorum)")
