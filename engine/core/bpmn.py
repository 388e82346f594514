"""BPMN diagrams as lxml reads them: the namespaces, the element and document types, and
the few look-ups that validation and the version diff share."""
from collections.abc import Iterator
from typing import TypeAlias, cast

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

# lxml's element and document classes are named with a leading underscore, yet they are the
# types its parser returns and its stubs document them for annotations: there is no public name.
Element: TypeAlias = etree._Element  # pyright: ignore[reportPrivateUsage]
Tree: TypeAlias = etree._ElementTree  # pyright: ignore[reportPrivateUsage]


def parse(content: str | bytes) -> Tree:
    """The document of a diagram's text, read without entities or network access (it comes
    from an upload); raises ``etree.XMLSyntaxError`` when it is not well-formed."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)).getroottree()


def local_name(element: Element) -> str:
    """The tag without its namespace (``userTask`` for ``bpmn:userTask``)."""
    return etree.QName(element).localname


def namespace(element: Element) -> str | None:
    """The namespace URI of the element's tag."""
    return etree.QName(element).namespace


def xpath(node: Element | Tree, path: str, namespaces: dict[str, str] | None = None,
          **variables: str) -> list[Element]:
    """The elements the XPath expression ``path`` selects (prefixes ``bpmn:`` and
    ``spiffworkflow:`` unless ``namespaces`` says otherwise; ``$name`` is ``variables[name]``)."""
    found = etree.XPath(path, namespaces=NS if namespaces is None else namespaces)(node, **variables)
    # lxml types an XPath result as Any, as it depends on the expression: every expression
    # given here selects elements, for which lxml returns a list of them.
    return cast(list[Element], found)


def first(elements: list[Element]) -> Element | None:
    """The first of ``elements`` (None when there is none)."""
    return elements[0] if elements else None


def properties(element: Element) -> dict[str, Element]:
    """``{name: spiffworkflow:property}`` of the element's extension properties."""
    found: dict[str, Element] = {}
    for prop in element.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        name = prop.get("name")
        if name is not None:
            found[name] = prop
    return found


def descendants(tree: Tree, local: str, prefix: str = "bpmn") -> Iterator[Element]:
    """Every element ``prefix:local`` of the diagram, in document order."""
    return tree.getroot().iterfind(f".//{prefix}:{local}", NS)


def owner(node: Element) -> Element:
    """The nearest ancestor of ``node`` with an id that names something a person recognises
    (``node`` itself when there is none)."""
    element = node.getparent()
    while element is not None:
        if element.get("id") and local_name(element) not in (
                "timerEventDefinition", "multiInstanceLoopCharacteristics"):
            return element
        element = element.getparent()
    return node
