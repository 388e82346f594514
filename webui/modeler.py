"""What the modeler's side panel offers, in the user's language: the roles a lane may take,
the seven steps, the forms of the version, and the service topics with what each does and
its parameters as typed fields.

The panel (webui/static/admin-panel.js) writes what the engine reads from a diagram: a
lane's ``role`` property, a task's ``step``, ``formJsonSchemaFilename`` and ``dueIn``
properties, a service task's ``spiffworkflow:serviceTaskOperator`` and its parameters (as
the expressions the engine evaluates), timers and documentation.
"""
import re

from flask_babel import lazy_gettext

from engine.core.models import LANE_ROLES

from .i18n import ROLE_LABELS, STEP_LABELS, is_english, localized

# Kinds of parameter field (the panel draws one widget per kind):
#   ratio       a fraction above 0 and at most 1, written n/d
#   comparison  "at_least" (the share itself counts) or "more_than"
#   number      a number; integer: a whole number; days: a whole number of days
#   shares      installments as [[label, percent], ...]
#   expression  a value taken from the project's data (a Python expression)
COMPARISONS = [("at_least", lazy_gettext("at least (the share itself is enough)")),
               ("more_than", lazy_gettext("more than (the share itself is not enough)"))]
INSTALLMENT_LABELS = [("on_signing", lazy_gettext("on signing")), ("on_acceptance", lazy_gettext("on acceptance")),
                      ("midterm", lazy_gettext("at mid-term"))]


NUMERALS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七"}
# The panel's own words.
PANEL_TEXT = {
    "empty": lazy_gettext("Select a task, lane, timer or flow to see what the engine reads from it."),
    "id": lazy_gettext("Id"), "name": lazy_gettext("Name"), "step": lazy_gettext("Step"), "chooseStep": lazy_gettext("Which step?"),
    "documentation": lazy_gettext("Description for the people doing it"),
    "role": lazy_gettext("Role of this lane"), "chooseRole": lazy_gettext("Choose a role"),
    "form": lazy_gettext("Form"), "chooseForm": lazy_gettext("Choose a form"), "newForm": lazy_gettext("New form in the designer"),
    "editForm": lazy_gettext("Open the form in the designer"),
    "dueDays": lazy_gettext("Due within (empty: no due date)"), "calendarDays": lazy_gettext("days"),
    "workingDays": lazy_gettext("working days"),
    "topic": lazy_gettext("What the system does here"), "chooseTopic": lazy_gettext("Choose what to do"),
    "parameters": lazy_gettext("Rules"), "advanced": lazy_gettext("Data it uses (for specialists)"),
    "default": lazy_gettext("Default: %(value)s"), "of": lazy_gettext("out of"),
    "addRow": lazy_gettext("Add an installment"), "removeRow": lazy_gettext("Remove"), "percent": lazy_gettext("percent"),
    "sum": lazy_gettext("Sum: %(n)s%%"),
    "timer": lazy_gettext("Timer"), "timerDuration": lazy_gettext("After a time (days)"), "timerDate": lazy_gettext("At a date"),
    "timerCycle": lazy_gettext("Repeatedly (ISO 8601, e.g. R3/P1D)"), "timerDays": lazy_gettext("Days"), "timerHours": lazy_gettext("Hours"),
    "condition": lazy_gettext("Condition (for specialists)"),
    "type": lazy_gettext("Kind"),
}


def _param(name: str, kind: str, label: object, help_text: object = "", default: object = None,
           **extra: object) -> dict:
    return {"name": name, "kind": kind, "label": label, "help": help_text, "default": default, **extra}


TOPICS = {
    "eligibility_check": (lazy_gettext("Eligibility check"), lazy_gettext(
        "Checks that the applying organization may take the catalog item (registration, town, other projects)."), [
        _param("organization_ids", "expression", lazy_gettext("Organizations to screen"),
               lazy_gettext("Empty: every organization of the item's town.")),
    ]),
    "vote_roster": (lazy_gettext("Voter roll"), lazy_gettext(
        "Lists who votes and who is recused (the project lead, the applicant's people)."), [
        _param("lead", "expression", lazy_gettext("Project lead"), lazy_gettext("Empty: the lead named in the application.")),
    ]),
    "vote_tally": (lazy_gettext("Count the votes"), lazy_gettext(
        "Counts the ballots, decides whether the meeting was quorate and the project passed, and announces it."), [
        _param("quorum_ratio", "ratio", lazy_gettext("Quorum: share of members present"), default="2/3"),
        _param("quorum_comparison", "comparison", lazy_gettext("Quorum comparison"), default="at_least"),
        _param("pass_ratio", "ratio", lazy_gettext("Pass: share of yes votes among those present"), default="1/2"),
        _param("pass_comparison", "comparison", lazy_gettext("Pass comparison"), default="more_than"),
        _param("ballots", "expression", lazy_gettext("Ballots"), lazy_gettext("Taken from the project's data."), advanced=True),
        _param("voters", "expression", lazy_gettext("Voters"), lazy_gettext("Taken from the project's data."), advanced=True),
        _param("recused", "expression", lazy_gettext("Recused members"), lazy_gettext("Taken from the project's data."), advanced=True),
    ]),
    "funds_earmark": (lazy_gettext("Reserve the funds"), lazy_gettext(
        "Reserves the project's money in the town's yearly budget; waits when too little is left."), [
        _param("amount", "expression", lazy_gettext("Amount (yuan)"), lazy_gettext("Empty: the application's total budget.")),
        _param("year", "integer", lazy_gettext("Budget year"), lazy_gettext("Empty: the current year.")),
    ]),
    "funds_release": (lazy_gettext("Release the funds"), lazy_gettext(
        "Gives back what a rejected or terminated project had reserved."), []),
    "agreement_draft": (lazy_gettext("Draft the agreement"), lazy_gettext(
        "Writes and seals the purchase agreement from the application and the town's decision."), [
        _param("installments", "shares", lazy_gettext("Installment split (percent)"),
               lazy_gettext("Used when the town does not decide the amounts itself; must add up to 100."),
               default=[["on_signing", 30], ["on_acceptance", 70]]),
        _param("term_days", "days", lazy_gettext("Term of the agreement (days)"), default=180),
        _param("amount", "expression", lazy_gettext("Amount (yuan)"), lazy_gettext("Taken from the project's data."), advanced=True),
        _param("criteria", "expression", lazy_gettext("Acceptance criteria"), lazy_gettext("Taken from the project's data."),
               advanced=True),
        _param("installment_amounts", "expression", lazy_gettext("Installment amounts decided by the town"),
               lazy_gettext("Taken from the town's purchase decision; takes the place of the percent split."), advanced=True),
        _param("application", "expression", lazy_gettext("Application fields"), lazy_gettext("Taken from the project's data."),
               advanced=True),
    ]),
    "agreement_sign": (lazy_gettext("Sign the agreement"), lazy_gettext(
        "Records both sides' signatures on the sealed text."), []),
    "agreement_verify": (lazy_gettext("Verify the agreement"), lazy_gettext(
        "Checks that the agreement is still the text that was sealed and signed."), []),
    "panel_check": (lazy_gettext("Check the evaluation panel"), lazy_gettext(
        "Checks the evaluation panel: its size, service recipients on it, no one from the organization."), [
        _param("min_size", "integer", lazy_gettext("Smallest panel"), default=3),
        _param("panel", "expression", lazy_gettext("Panel members"), lazy_gettext("Taken from the project's data."), advanced=True),
    ]),
    "acceptance_decision": (lazy_gettext("Acceptance decision"), lazy_gettext(
        "Accepts the project when the panel's average score reaches the threshold."), [
        _param("pass_score", "number", lazy_gettext("Acceptance threshold (score out of 100)"), default=60, min=0, max=100),
        _param("scores", "expression", lazy_gettext("Scores"), lazy_gettext("Taken from the project's data."), advanced=True),
        _param("members", "expression", lazy_gettext("Panel members whose scores count"), lazy_gettext("Taken from the project's data."),
               advanced=True),
    ]),
    "payment": (lazy_gettext("Pay an installment"), lazy_gettext("Pays one installment of the agreement, exactly once."), [
        _param("installment", "integer", lazy_gettext("Which installment (1 = the first)"), default=1, min=1),
    ]),
    "notify": (lazy_gettext("Send a message"), lazy_gettext("Sends an in-app message to people or to a role in the project's scope."), [
        _param("message", "expression", lazy_gettext("Message"), lazy_gettext("A text in quotes, or taken from the project's data.")),
        _param("role", "expression", lazy_gettext("To the role"), lazy_gettext("A role key in quotes.")),
    ]),
}


def panel_config(forms: dict, topics: set[str]) -> dict:
    """The panel's choices as plain JSON: roles, steps, forms (name and title), topics."""
    def words(value):
        return str(value)

    return {
        "locale": "en" if is_english() else "zh",
        "roles": [{"key": role, "label": words(ROLE_LABELS.get(role, role))} for role in LANE_ROLES],
        "steps": [{"value": str(n), "label": words(lazy_gettext("Step %(n)s: %(label)s", n=n if is_english() else NUMERALS[n],
                                                       label=STEP_LABELS[n]))}
                  for n in sorted(STEP_LABELS)],
        "forms": [{"name": name, "title": localized(schema) or name} for name, schema in sorted(forms.items())],
        "topics": [{"key": key, "label": words(label), "description": words(description),
                    "params": [{**p, "label": words(p["label"]), "help": words(p["help"])} for p in params]}
                   for key, (label, description, params) in TOPICS.items() if key in topics],
        "comparisons": [{"value": value, "label": words(label)} for value, label in COMPARISONS],
        "installmentLabels": [{"value": value, "label": words(label)} for value, label in INSTALLMENT_LABELS],
        "text": {key: words(value) for key, value in PANEL_TEXT.items()},
    }


# The form designer's words (webui/static/form-designer.js).
DESIGNER_TEXT = {
    "formTitleZh": lazy_gettext("Title of the form (Chinese)"), "formTitleEn": lazy_gettext("Title of the form (English)"),
    "kind": lazy_gettext("Kind of field"), "labelZh": lazy_gettext("Label (Chinese)"),
    "labelEn": lazy_gettext("Label (English)"), "required": lazy_gettext("Required"),
    "helpZh": lazy_gettext("Help text (Chinese)"), "helpEn": lazy_gettext("Help text (English)"),
    "key": lazy_gettext("Data name (letters, digits, _)"), "min": lazy_gettext("At least"),
    "max": lazy_gettext("At most"), "length": lazy_gettext("characters"), "value": lazy_gettext("value"),
    "rows": lazy_gettext("rows"), "options": lazy_gettext("Choices"), "addOption": lazy_gettext("Add a choice"),
    "columns": lazy_gettext("Columns of each row"), "addColumn": lazy_gettext("Add a column"),
    "addField": lazy_gettext("Add a field"), "up": lazy_gettext("Move up"), "down": lazy_gettext("Move down"),
    "remove": lazy_gettext("Remove"), "keptAsIs": lazy_gettext("kept as it is (edit it in the JSON text)"),
    "badName": lazy_gettext("Use letters, digits, - and _ only."),
}
FIELD_KINDS = {
    "text": lazy_gettext("Text"), "textarea": lazy_gettext("Long text"), "number": lazy_gettext("Number"),
    "integer": lazy_gettext("Whole number"), "money": lazy_gettext("Money (yuan)"), "date": lazy_gettext("Date"),
    "choice": lazy_gettext("Choice"), "yesno": lazy_gettext("Yes / no"), "table": lazy_gettext("Table with rows"),
    "file": lazy_gettext("File"),
}


def designer_text() -> dict:
    """The form designer's words in the user's language, as plain JSON."""
    return {**{key: str(value) for key, value in DESIGNER_TEXT.items()},
            "kinds": {key: str(value) for key, value in FIELD_KINDS.items()}}


PROPERTY_LABELS = {"formJsonSchemaFilename": lazy_gettext("Form"), "dueIn": lazy_gettext("Due time"),
                   "dueInWorkingDays": lazy_gettext("Due time in working days"), "step": lazy_gettext("Step")}


def parameter_label(name: str) -> str:
    """A topic parameter's name in words (the name itself when no topic describes it)."""
    for _label, _description, params in TOPICS.values():
        for param in params:
            if param["name"] == name:
                return str(param["label"])
    return name


def value_words(value: str | None) -> str:
    """A parameter's or property's value as people read it."""
    if value is None or value == "":
        return str(lazy_gettext("(none)"))
    text = value.strip().strip('"')
    for key, label in COMPARISONS:
        if text == key:
            return str(label)
    match = re.fullmatch(r"P(\d+)D", text)
    if match:
        return str(lazy_gettext("%(n)s days", n=match.group(1)))
    return value


# A changed part of a diagram element, as engine.core.versions names it: a service task's
# parameter, an extension property, the name, or anything else (shown as it is).
_PARAMETER_PART = re.compile(r"serviceTaskOperator [^/]*/parameters/parameter (?P<name>\S+)")
_PROPERTY_PART = re.compile(r"properties/property (?P<name>\S+)")
_VALUE = re.compile(r'(?:^|\s)value="(?P<value>[^"]*)"')


def part_words(part: str, old: str | None, new: str | None) -> tuple[str, str, str]:
    """``(what, old, new)`` of a version diff's changed part: parameters and properties by
    their names in words and their values as people read them."""
    def value_of(text: str | None) -> str | None:
        found = _VALUE.search(text or "")
        return found.group("value") if found else text

    if match := _PARAMETER_PART.fullmatch(part):
        return parameter_label(match.group("name")), value_words(value_of(old)), value_words(value_of(new))
    if match := _PROPERTY_PART.fullmatch(part):
        name = match.group("name")
        return str(PROPERTY_LABELS.get(name, name)), value_words(value_of(old)), value_words(value_of(new))
    if part == "@name":
        return str(lazy_gettext("Name")), old or "—", new or "—"
    return part, old if old is not None else "—", new if new is not None else "—"


def change_words(change) -> tuple[str, str, str]:
    """``(what, old, new)`` of a migration preview's parameter or property change."""
    if change.kind == "parameter":
        what = parameter_label(change.name)
    elif change.kind == "topic":
        what = str(lazy_gettext("What the system does"))
    else:
        what = str(PROPERTY_LABELS.get(change.name, change.name))
    return what, value_words(change.old), value_words(change.new)
