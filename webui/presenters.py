"""People and rule results in words: what pages show instead of usernames and raw JSON.

One place for it, so every page (and the documents) says a result the same way:

- :func:`person` - a display name for a username; anything that is no person (a worker id
  such as ``vm:13690``, the scheduler) reads as "Automatic check" (系统自动审查).
- :func:`reason` - why someone stands aside (recusal) or a panel entry was refused.
- :func:`rule_results` - the results the rules recorded in a project's data (eligibility,
  roster, vote, earmark, agreement seal and signatures, panel check, acceptance, payments)
  as :class:`Result` blocks: a title, a short sentence, an optional small table.

The data comes from the engine (``Runtime.instance_variables``, ``listings.display_names``);
the words are this module's, in the interface's language.
"""
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext

from .i18n import ROLE_LABELS, is_english, money

AUTOMATIC = lazy_gettext("Automatic check")

FIELD_LABELS = {
    "elderly": lazy_gettext("services for the elderly"), "youth": lazy_gettext("services for youth"),
    "women": lazy_gettext("services for women"), "vulnerable": lazy_gettext("services for vulnerable groups"),
    "mediation": lazy_gettext("dispute mediation"), "culture": lazy_gettext("community culture"),
    "other": lazy_gettext("other services"),
}


@dataclass
class Result:
    """One rule's result as a page shows it. ``tone`` is ``ok``, ``warn`` or ``bad``."""

    title: str
    sentence: str
    tone: str = "ok"
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    key: str = ""
    note: str = ""  # the rule that was applied, when it matters


def person(username: str | None, names: Mapping[str, str]) -> str:
    """The display name for ``username``; a name no person has is the system's own check."""
    if not username:
        return ""
    if username in names:
        return names[username] or username
    return str(AUTOMATIC)


def usernames_in(variables: Mapping[str, Any]) -> set[str]:
    """Every username the rule results of ``variables`` mention (to look display names up once)."""
    found: set[str] = set()
    roster = variables.get("roster") or {}
    found.update(roster.get("voters") or [])
    found.update(r.get("username", "") for r in roster.get("recused") or [] if isinstance(r, dict))
    for key in ("panel_members",):
        found.update(v for v in variables.get(key) or [] if isinstance(v, str))
    for sig in (variables.get("agreement_signed") or {}).get("signatures") or []:
        found.add(sig.get("username", ""))
    project = variables.get("project") or {}
    if project.get("lead"):
        found.add(project["lead"])
    return {name for name in found if name}


def field_label(code: str) -> str:
    return str(FIELD_LABELS.get(code, code))


def reason(entry: Mapping[str, Any]) -> str:
    """Why a person must stand aside, or why a panel entry is refused, in one phrase."""
    code = entry.get("code")
    org = entry.get("organization") or ""
    since = entry.get("since") or ""
    title = entry.get("title") or ""
    if code == "project_lead":
        return _("the project lead")
    if code == "employment":
        if title:
            return _("works for %(org)s as %(title)s since %(since)s", org=org, title=title, since=since)
        return _("works for %(org)s since %(since)s", org=org, since=since)
    if code == "membership":
        if title:
            return _("member of %(org)s (%(title)s) since %(since)s", org=org, title=title, since=since)
        return _("member of %(org)s since %(since)s", org=org, since=since)
    if code == "acts_for":
        return _("acts for %(org)s in this system", org=org)
    return str(code or "")


def _panel_problem(entry: Mapping[str, Any], names: Mapping[str, str]) -> str:
    code = entry.get("code")
    who = entry.get("name") or names.get(entry.get("username", ""), entry.get("username", ""))
    if code == "not_a_person":
        return _("“%(name)s” is not a person in the system", name=entry.get("username", ""))
    if code == "inactive":
        return _("%(name)s no longer has an active account", name=who)
    if code == "affiliated":
        why = "；".join(reason(r) for r in entry.get("reasons") or []) if not is_english() else \
            "; ".join(reason(r) for r in entry.get("reasons") or [])
        return _("%(name)s must stand aside (%(why)s)", name=who, why=why) if why else \
            _("%(name)s belongs to the evaluated organization", name=who)
    if code == "service_recipient":
        return _("%(name)s received the service", name=who)
    if code == "twice":
        return _("%(name)s is listed twice", name=who)
    if code == "too_few":
        return _("the panel needs at least %(min)s eligible members, it has %(size)s",
                 min=entry.get("min_size"), size=entry.get("size"))
    if code == "no_name":
        return _("a panel entry has no name")
    return str(code or "")


def _eligibility_reason(entry: Mapping[str, Any]) -> str:
    code = entry.get("code")
    if code == "not_registered":
        return _("not registered")
    if code == "not_active":
        return _("no longer active")
    if code == "fields":
        covered = "、".join(field_label(f) for f in entry.get("fields") or []) or _("none")
        return _("its service fields (%(fields)s) do not include %(field)s",
                 fields=covered, field=field_label(entry.get("field", "")))
    if code == "limit":
        return _("already runs %(running)s projects (limit %(limit)s)", running=entry.get("running"),
                 limit=entry.get("limit"))
    return str(code or "")


def _join(parts: Iterable[str]) -> str:
    return ("; " if is_english() else "；").join(p for p in parts if p)


def eligibility(result: Mapping[str, Any], show_others: bool) -> Result:
    """Step 1's screening. ``show_others`` is False for the applicant: it sees its own
    result only, never why other organizations were ruled out."""
    own_codes = result.get("reason_codes")
    if own_codes is None:  # recorded before reasons had codes
        own = _join(result.get("reasons") or [])
    else:
        own = _join(_eligibility_reason(r) for r in own_codes)
    if result.get("eligible"):
        sentence = _("The applying organization meets the conditions for this service item.")
        tone = "ok"
    else:
        sentence = _("The applying organization does not meet the conditions: %(why)s.", why=own)
        tone = "bad"
    block = Result(_("Eligibility screening"), sentence, tone, key="eligibility")
    if show_others:
        block.headers = [_("Organization"), _("Eligible"), _("Why not")]
        for row in result.get("organizations") or []:
            codes = row.get("reason_codes")
            why = _join(_eligibility_reason(r) for r in codes) if codes is not None else _join(row.get("reasons") or [])
            block.rows.append([row.get("name", ""), _("Yes") if row.get("eligible") else _("No"), why or "—"])
    return block


def roster(result: Mapping[str, Any], names: Mapping[str, str]) -> Result:
    voters = result.get("voters") or []
    recused = [r for r in result.get("recused") or [] if isinstance(r, dict)]
    sentence = _("%(count)s representatives vote; %(recused)s stand aside.", count=len(voters), recused=len(recused))
    block = Result(_("Vote roster"), sentence, key="roster")
    if recused:
        block.headers = [_("Stands aside"), _("Why")]
        for entry in recused:
            reasons = entry.get("reasons") or []
            if not reasons:  # recorded before reasons had codes
                reasons = [{"code": "project_lead" if entry.get("reason") == "project lead" else "acts_for"}]
            why = _join(reason(r) for r in reasons)
            block.rows.append([entry.get("name") or person(entry.get("username"), names), why])
    return block


def vote(result: Mapping[str, Any]) -> Result:
    """The announcement made on the spot, with the rule applied and the counts."""
    said = result.get("announcement")
    if isinstance(said, Mapping):
        sentence = said.get("en" if is_english() else "zh") or said.get("zh") or ""
    else:  # recorded before announcements were kept in both languages
        sentence = _("%(present)s of %(members)s present; %(yes)s yes, %(no)s no, %(abstain)s abstaining.",
                     present=result.get("present"), members=result.get("members"), yes=result.get("yes"),
                     no=result.get("no"), abstain=result.get("abstain"))
    tone = "ok" if result.get("passed") else ("warn" if result.get("valid") else "bad")
    title = _("Vote result (round %(n)s)", n=result["round"]) if result.get("round") else _("Vote result")
    block = Result(title, sentence, tone, key="vote_result")
    block.headers = [_("Members"), _("Present"), _("Votes for"), _("Votes against"), _("Abstaining")]
    block.rows = [[str(result.get(k, "")) for k in ("members", "present", "yes", "no", "abstain")]]
    rule = (result.get("rule") or {}).get("text")
    if isinstance(rule, Mapping):
        block.note = rule.get("en" if is_english() else "zh", "")
    return block


def earmark(result: Mapping[str, Any]) -> Result:
    return Result(_("Funds earmarked"),
                  _("%(amount)s earmarked in the %(year)s budget; %(left)s remain.",
                    amount=money(result.get("amount")), year=result.get("budget_year"), left=money(result.get("remaining"))),
                  key="earmark")


def agreement(result: Mapping[str, Any]) -> Result:
    block = Result(_("Purchase agreement drafted"),
                   _("Agreement %(number)s for %(amount)s, sealed with its fingerprint %(seal)s.",
                     number=result.get("number", ""), amount=money(result.get("amount")),
                     seal=(result.get("seal") or "")[:12]), key="agreement")
    installments = result.get("installments") or []
    if installments:
        block.headers = [_("Installment"), _("Amount")]
        block.rows = [[str(i.get("label") or i.get("no")), money(i.get("amount"))] for i in installments]
    return block


def signatures(result: Mapping[str, Any], names: Mapping[str, str]) -> Result:
    parties = {"purchaser": _("Purchaser"), "contractor": _("Contractor")}
    block = Result(_("Agreement signed"), _("Both sides signed the sealed text of agreement %(number)s.",
                                            number=result.get("number", "")), key="agreement_signed")
    block.headers = [_("Side"), _("Signed by"), _("When")]
    for sig in result.get("signatures") or []:
        block.rows.append([str(parties.get(sig.get("party"), sig.get("party"))), person(sig.get("username"), names),
                           (sig.get("signed_at") or "")[:16].replace("T", " ")])
    return block


def seal_check(result: Mapping[str, Any]) -> Result:
    if result.get("ok", result.get("valid")):
        return Result(_("Agreement check"), _("The agreement is unchanged since it was sealed and signed."),
                      key="agreement_check")
    return Result(_("Agreement check"), _("The agreement was changed after it was sealed: %(what)s.",
                                          what=_join(result.get("problems") or [])), "bad", key="agreement_check")


def panel(result: Mapping[str, Any], names: Mapping[str, str]) -> Result:
    members = result.get("members") or []
    shown = result.get("names") or {}
    who = "、".join(shown.get(m) or person(m, names) for m in members) if not is_english() else \
        ", ".join(shown.get(m) or person(m, names) for m in members)
    return Result(_("Evaluation panel checked"),
                  _("The panel of %(count)s meets the rules: %(who)s.", count=len(members), who=who), key="panel_check")


def panel_problems(variables: Mapping[str, Any], names: Mapping[str, str]) -> Result:
    codes = variables.get("panel_problem_codes")
    if codes:
        problems = [_panel_problem(c, names) for c in codes]
    else:
        problems = list(variables.get("panel_problems") or [])
    return Result(_("Evaluation panel refused"),
                  _("The panel must be formed again: %(problems)s.", problems=_join(problems)), "bad",
                  key="panel_problems")


def acceptance(result: Mapping[str, Any]) -> Result:
    accepted = result.get("accepted")
    average = result.get("average", result.get("mean_score"))
    if accepted:
        sentence = _("Accepted: the panel's average score %(average)s reaches the pass mark %(pass)s (%(count)s scores).",
                     average=average, **{"pass": result.get("pass_score", "")}, count=result.get("count", ""))
    else:
        sentence = _("Not accepted: the panel's average score %(average)s is below the pass mark %(pass)s "
                     "(%(count)s scores).", average=average, **{"pass": result.get("pass_score", "")},
                     count=result.get("count", ""))
    return Result(_("Acceptance"), sentence, "ok" if accepted else "bad", key="evaluation_result")


def payment(result: Mapping[str, Any]) -> Result:
    return Result(_("Payment"), _("Installment %(label)s of %(amount)s paid on %(date)s.",
                                  label=result.get("label") or result.get("installment", ""),
                                  amount=money(result.get("amount")), date=(result.get("paid_at") or "")[:10]),
                  key="payment")


def rule_results(variables: Mapping[str, Any], names: Mapping[str, str], applicant_view: bool) -> list[Result]:
    """The recorded rule results of one project, in the order the method reaches them.

    ``applicant_view``: the viewer is the applying organization, who sees its own
    eligibility only. Results that are not dicts (an older or hand-made shape) are skipped.
    """
    blocks = []

    def have(key: str) -> Mapping[str, Any] | None:
        value = variables.get(key)
        return value if isinstance(value, Mapping) else None

    if (found := have("eligibility")) is not None:
        blocks.append(eligibility(found, show_others=not applicant_view))
    if (found := have("roster")) is not None:
        blocks.append(roster(found, names))
    if (found := have("vote_result")) is not None:
        blocks.append(vote(found))
    if (found := have("earmark")) is not None and "amount" in found:
        blocks.append(earmark(found))
    if (found := have("agreement")) is not None and "number" in found:
        blocks.append(agreement(found))
    if (found := have("agreement_signed")) is not None and "signatures" in found:
        blocks.append(signatures(found, names))
    if (found := have("agreement_check")) is not None and ("ok" in found or "valid" in found):
        blocks.append(seal_check(found))
    if variables.get("panel_problems") and not have("panel_check"):
        blocks.append(panel_problems(variables, names))
    if (found := have("panel_check")) is not None and "members" in found:
        blocks.append(panel(found, names))
    if (found := have("evaluation_result")) is not None and "accepted" in found:
        blocks.append(acceptance(found))
    for key in ("payment_first", "payment_final"):
        if (found := have(key)) is not None and "amount" in found:
            blocks.append(payment(found))
    return blocks


# Task-data keys the rule results above cover (the task page no longer shows them raw).
RESULT_KEYS = frozenset({"eligibility", "roster", "vote_result", "earmark", "agreement", "agreement_signed",
                         "agreement_check", "panel_check", "panel_problems", "panel_problem_codes",
                         "evaluation_result", "payment_first", "payment_final", "voters", "ballots", "scores"})


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))
