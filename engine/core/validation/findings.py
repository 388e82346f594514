"""What validation reports: one :class:`Finding` per problem, gathered per file in a
:class:`Report`. Messages are :class:`~engine.errors.Text`, so the interface shows them in
the user's language; each finding is one line."""
from dataclasses import dataclass, field

from engine.core.bpmn import Element
from engine.errors import Text


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem in a diagram or form; ``severity`` is ``"error"`` or ``"warning"``."""

    severity: str = "error"
    file: str
    element_id: str | None = None
    element_name: str | None = None
    line: int | None = None
    message: str

    def __post_init__(self) -> None:
        # One finding, one line: a name or message with line breaks is joined with spaces.
        if self.element_name:
            object.__setattr__(self, "element_name", _one_line(self.element_name))
        object.__setattr__(self, "message", _one_line(self.message))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.element_id:
            where += f" [{self.element_id}]"
        if self.element_name:
            where += f" {self.element_name}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


def _one_line(text: str) -> str:
    """``text`` on one line; a :class:`Text` keeps its template and values (also on one line)."""
    if not isinstance(text, Text):
        return " ".join(text.split())
    values = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in text.values.items()}
    return Text(text.template, **values)


@dataclass
class Report:
    """The findings on one diagram file.

    ``structural`` says whether an error was found that SpiffWorkflow would trip over (a
    flow that points nowhere, an element it has no parser for); Sanshe's own rules (lanes,
    steps, forms, topics) are not structural.
    """

    file: str
    findings: list[Finding] = field(default_factory=list[Finding])
    structural: bool = False

    def add(self, element: Element, message: str, severity: str = "error", line: int | None = None,
            structural: bool = False) -> None:
        """Report ``message`` on ``element`` (at ``line``, else the element's own line)."""
        self.structural = self.structural or (structural and severity == "error")
        self.findings.append(Finding(
            severity=severity, file=self.file, line=line or element.sourceline, message=message,
            element_id=element.get("id"), element_name=element.get("name"),
        ))
