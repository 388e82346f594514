"""One error hierarchy for the whole engine; the web layer and the CLI map it.

Messages are English. One that carries values is a :class:`Text`, which keeps its template
and values, so that an interface can show it in the user's language; a message without
values is its own template.
"""

from typing import Any


class Text(str):
    """An English message with values put into it (``template % values``); it keeps both,
    so the web interface can translate the template and put the same values into that."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> "Text":
        text = super().__new__(cls, template % values if values else template)
        text.template, text.values = template, values
        return text


class SansheError(Exception):
    """The operation could not be carried out."""

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.__doc__)
        self.message = message or self.__doc__
        self.details = details

    def __str__(self):
        return self.message


class NotFoundError(SansheError):
    """The requested object does not exist or is outside your scope."""


class ForbiddenError(SansheError):
    """You may not do this."""


class ConflictError(SansheError):
    """Someone else changed this first; reload and try again."""


class ValidationError(SansheError):
    """The input is not valid.

    ``errors`` maps a field path (or ``""`` for the whole input) to a list of messages;
    ``findings`` lists structured problems (file, element id, name, line, message) for
    diagrams.
    """

    def __init__(self, message: str | None = None, errors: dict[str, Any] | None = None,
                 findings: list[Any] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}
        self.findings = findings or []


class ProcessError(SansheError):
    """The process cannot go on from here: the diagram raised an error. Nothing was changed."""


class BusinessRuleError(SansheError):
    """A rule of the Seven-Step Method refuses this.

    Raised by service-task handlers; ``code`` names the BPMN error it maps to.
    """

    def __init__(self, message: str | None = None, code: str = "rule_violation", **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


class WaitingError(SansheError):
    """This step waits for something outside the process; it goes on by itself once that is there.

    Raised by service-task handlers. ``waiting_for`` names what the job waits for (e.g.
    ``budget:3:2026``); the job is parked (not failed, no retry used) until whatever
    provides it puts the job back in the queue. ``arrived(session)``, when given, is asked
    in the transaction that parks the job whether what it waits for came meanwhile (then
    the job is queued again at once instead); it locks what the provider locks, so the
    two cannot miss each other.
    """

    def __init__(self, message: str | None = None, waiting_for: str = "", arrived: Any | None = None,
                 **details: Any) -> None:
        super().__init__(message, **details)
        self.waiting_for = waiting_for
        self.arrived = arrived
