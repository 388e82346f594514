"""One error hierarchy for the whole engine; the web layer and the CLI map it."""


class SansheError(Exception):
    """The operation could not be carried out."""

    def __init__(self, message=None, **details):
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

    def __init__(self, message=None, errors=None, findings=None):
        super().__init__(message)
        self.errors = errors or {}
        self.findings = findings or []


class BusinessRuleError(SansheError):
    """A rule of the Seven-Step Method refuses this.

    Raised by service-task handlers; ``code`` names the BPMN error it maps to.
    """

    def __init__(self, message=None, code="rule_violation", **details):
        super().__init__(message, **details)
        self.code = code
