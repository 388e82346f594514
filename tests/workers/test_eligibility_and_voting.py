"""Step 1 eligibility and step 4 voting: the rules refuse what the method forbids."""
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from engine.method import voting
from engine.method.vote_rule import VoteRule, check_parameter_texts, share_zh
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


def test_roster_recuses_through_affiliations_and_acting_for_the_applicant(db, queue, seed):
    from datetime import date

    from engine.core import affiliations, users
    from engine.core.models import User

    with db.uow() as session:
        # The account of the issue: granted both the organization's role and a representative's.
        both = session.get(User, seed.users["rep2"])
        users.grant_role(session, both, "social_organization", seed.org_ids["sunshine"])
        member = session.get(User, seed.users["rep3"])
        affiliations.add(session, member, seed.org_ids["sunshine"], "membership", date(2023, 1, 1), title="志愿者")
        future = session.get(User, seed.users["rep4"])  # joins only after the vote: still votes
        affiliations.add(session, future, seed.org_ids["sunshine"], "employment", date(2025, 1, 1))
        other = session.get(User, seed.users["rep5"])  # another organization: still votes
        affiliations.add(session, other, seed.org_ids["harmony"], "employment", date(2020, 1, 1))
    _, roster, _ = run_job(db, queue, seed, "vote_roster")
    recused = {r["username"]: r for r in roster["recused"]}
    assert sorted(recused) == ["rep2", "rep3", "rep9"]
    assert [r["code"] for r in recused["rep2"]["reasons"]] == ["acts_for"]
    assert recused["rep3"]["reasons"] == [{"code": "membership", "organization": "阳光社工服务中心", "since": "2023-01-01",
                                           "title": "志愿者"}]
    assert "rep4" in roster["voters"] and "rep5" in roster["voters"] and roster["members"] == 6


VOTERS = [f"v{i}" for i in range(9)]


def ballots(yes, no=0, abstain=0):
    votes = ["yes"] * yes + ["no"] * no + ["abstain"] * abstain
    return [{"voter": v, "vote": c} for v, c in zip(VOTERS, votes)]


def rule(**params):
    return VoteRule.from_params(params)


@pytest.mark.parametrize("quorum", ["2/3", 2 / 3, Fraction(2, 3)])
def test_two_thirds_present_is_a_valid_meeting_as_the_law_reads(quorum):
    # "三分之二以上" includes two-thirds itself (Civil Code art. 1259): 6 of 9 is enough.
    assert voting.tally(VOTERS, ballots(6), rule(quorum_ratio=quorum))["valid"] is True
    assert voting.tally(VOTERS, ballots(5), rule(quorum_ratio=quorum))["valid"] is False


def test_six_of_nine_present_with_five_yes_passes_and_says_so():
    result = voting.tally(VOTERS, ballots(5, 1))
    assert (result["valid"], result["passed"], result["present"], result["members"]) == (True, True, 6, 9)
    assert result["announcement"]["zh"] == ("应到9人，实到6人，到会人数不少于三分之二，会议有效；"
                                            "赞成5票、反对1票、弃权0票，赞成票超过到会人数的半数，表决通过")
    assert "at least two-thirds" in result["announcement"]["en"]
    assert result["rule"]["text"]["zh"] == "会议须有不少于三分之二的组成人员到会方为有效，所作决定须经超过到会人员的半数同意"


def test_exactly_half_of_those_present_does_not_pass():
    assert voting.tally(VOTERS, ballots(4, 4))["passed"] is False
    assert voting.tally(VOTERS, ballots(4, 3, 1))["passed"] is False
    result = voting.tally(VOTERS, ballots(3, 3))
    assert (result["valid"], result["passed"]) == (True, False)
    assert result["announcement"]["zh"].endswith("赞成票未超过到会人数的半数，表决未通过")
    result = voting.tally(VOTERS, ballots(5, 3))
    assert (result["valid"], result["passed"], result["present"]) == (True, True, 8)


def test_bylaws_may_ask_more_than_two_thirds_present_and_at_least_half_yes():
    bylaws = rule(quorum_comparison="more_than", pass_comparison="at_least")
    result = voting.tally(VOTERS, ballots(6), bylaws)
    assert result["valid"] is False
    assert result["announcement"]["zh"] == "应到9人，实到6人，到会人数未超过三分之二，会议无效，不能表决"
    assert voting.tally(VOTERS, ballots(4, 3), bylaws)["valid"] is True
    # 4 of 8 is at least half: passes under these bylaws, not under the law.
    assert voting.tally(VOTERS, ballots(4, 4), bylaws)["passed"] is True
    assert voting.tally(VOTERS, ballots(4, 4))["passed"] is False
    assert voting.tally(VOTERS, ballots(4, 4), bylaws)["rule"]["pass_comparison"] == "at_least"


def test_ballots_of_recused_outsiders_and_repeat_voters_do_not_count():
    votes = ballots(3, 4) + [{"voter": "lead", "vote": "yes"}, {"voter": "v0", "vote": "no"},
                             {"voter": "v7", "vote": "absent"}]
    result = voting.tally(VOTERS, votes)
    assert (result["yes"], result["no"], result["present"]) == (3, 4, 7)
    assert len(result["ignored"]) == 2


def test_ratios_and_comparisons_come_from_the_diagram_and_must_be_sane():
    assert voting.tally(VOTERS, ballots(5, 2), rule(quorum_ratio="1/2", pass_ratio="3/4"))["passed"] is False
    for bad in ({"quorum_ratio": "1.5"}, {"pass_ratio": "0"}, {"quorum_comparison": "at least"},
                {"pass_comparison": ">"}, {"quorum_ratio": True}):
        with pytest.raises(ValidationError):
            rule(**bad)


def test_parameters_of_an_older_diagram_mean_the_law():
    assert VoteRule.from_params({"quorum_ratio": 2 / 3, "pass_ratio": 0.5}) == VoteRule()
    assert voting.tally(VOTERS, ballots(6), VoteRule.from_params({"quorum_ratio": 2 / 3}))["valid"] is True


@pytest.mark.parametrize(("texts", "problems"), [
    ({"quorum_ratio": "2/3", "quorum_comparison": '"at_least"', "pass_comparison": '"more_than"'}, 0),
    ({"quorum_comparison": "at_least"}, 1),          # not quoted: a variable name, not the word
    ({"pass_comparison": '"at least"'}, 1),
    ({"quorum_comparison": '"more_than"', "pass_comparison": '"most"'}, 1),
    ({"quorum_ratio": "3/2", "pass_ratio": "0"}, 2),
    ({"quorum_ratio": 'project["quorum"]'}, 0),      # computed from task data: checked when it runs
])
def test_the_validator_accepts_only_the_allowed_rule_values(texts, problems):
    assert len(check_parameter_texts(texts)) == problems


def test_shares_read_as_chinese_announcements_say_them():
    assert [share_zh(Fraction(*f)) for f in ((2, 3), (1, 2), (3, 4), (1, 1), (11, 20))] == [
        "三分之二", "半数", "四分之三", "全体", "二十分之十一"]


def test_tally_is_recorded_and_announced_once(db, queue, seed):
    votes = [{"voter": f"rep{i}", "vote": "yes" if i < 6 else "no"} for i in range(1, 10)]
    outcome, result, job_id = run_job(db, queue, seed, "vote_tally", params={"ballots": votes})
    # rep9 is recused: 8 members, 8 present, 5 yes (rep1..rep5), 3 no (rep6..rep8).
    assert (result["members"], result["present"], result["yes"], result["passed"]) == (8, 8, 5, True)
    assert result["round"] == 1 and result["announcement"]["zh"].endswith("表决通过。")
    assert result["announcement"]["zh"].startswith("“居家养老”第1轮表决：应到8人，实到8人")
    with db.uow() as session:
        again = voting.record_tally(session, job_id, seed.instance_id, [], [], [], VoteRule(), None)
    assert again == result
    with db.uow(readonly=True) as session:
        told = session.scalars(select(Notification.username)).all()
        assert sorted(told) == sorted([f"rep{i}" for i in range(1, 10)] + ["chair"])
        assert session.scalar(select(func.count()).select_from(Decision)) == 1
    _, redo, _ = run_job(db, queue, seed, "vote_tally", params={"ballots": votes[:5]})
    assert (redo["round"], redo["valid"], redo["outcome"]) == (2, False, "invalid (no quorum)")
