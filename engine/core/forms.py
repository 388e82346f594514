"""Form data checked against the JSON Schema a user task references.

A field may offer values known only when the form is shown (the people who may sit on a
panel): ``"x-choices": NAME`` on the field (or on an array field, for its items). The
runtime is handed ``{NAME: offer}``; ``offer(session, task, now)`` returns
``[{"value", "label", "group"?, "reasons"?}]``. Values with no ``reasons`` become the
field's ``enum`` (so anything else is refused), the others are listed under
``x-unavailable`` with their reasons, for the page to say why they cannot be chosen.
"""
from collections.abc import Callable, Mapping
from copy import deepcopy
from datetime import datetime
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema import ValidationError as SchemaError
from jsonschema.protocols import Validator

from engine.errors import Text

_FORMATS = FormatChecker()
# id(schema) -> (schema, validator); the schema is kept, so its id stays its own
_VALIDATORS: dict[int, tuple[Mapping[str, Any], Validator]] = {}


def _validator(schema: Mapping[str, Any]) -> Validator:
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_VALIDATORS) >= 512:
            _VALIDATORS.clear()
        entry = _VALIDATORS[id(schema)] = (schema, Draft202012Validator(schema, format_checker=_FORMATS))
    return entry[1]


def is_object(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether a JSON value is an object (JSON gives its keys as text)."""
    return isinstance(value, dict)


def _is_array(value: object) -> TypeGuard[list[object]]:
    """Whether a JSON value is an array."""
    return isinstance(value, list)


def _properties(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields of a form's schema (``properties``; none when it has none)."""
    properties: dict[str, Any] = schema.get("properties", {}) if schema else {}
    return properties


Offer = Callable[[Any, Any, datetime], list[dict[str, Any]]]


def _choice_fields(schema: dict[str, Any], offers: Mapping[str, Offer]) -> list[tuple[str, ...]]:
    """Paths (property names) of the ``x-choices`` fields of ``schema``, including the
    columns of a table (an array of objects), e.g. ``("panel_member_categories", "username")``."""
    found: list[tuple[str, ...]] = []
    for name, prop in _properties(schema).items():
        if not is_object(prop):
            continue
        if prop.get("x-choices") in offers:
            found.append((name,))
        items = prop.get("items")
        if prop.get("type") == "array" and is_object(items) and "properties" in items:
            found.extend((name, *inner) for inner in _choice_fields(items, offers))
    return found


def with_choices(schema: dict[str, Any], offers: Mapping[str, Offer], session: Any, task: Any,
                 now: datetime) -> dict[str, Any]:
    """``schema`` with each ``x-choices`` field's values filled in (a copy; the deployed
    schema is never changed), in a table's rows too. A schema without such fields is
    returned as it is."""
    paths = _choice_fields(schema, offers)
    if not paths:
        return schema
    schema = deepcopy(schema)
    computed: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        container = schema
        for name in path[:-1]:
            container = container["properties"][name]["items"]
        prop = container["properties"][path[-1]]
        kind = prop["x-choices"]
        if kind not in computed:
            computed[kind] = offers[kind](session, task, now)
        options = computed[kind]
        target = prop.setdefault("items", {}) if prop.get("type") == "array" else prop
        offered = [o for o in options if not o.get("reasons")]
        target["enum"] = [o["value"] for o in offered]
        target["x-enum-titles"] = [o["label"] for o in offered]
        target["x-enum-groups"] = [o.get("group", "") for o in offered]
        target["x-choices"] = kind
        if len(path) == 1:  # the people who must stand aside are listed once, by the main field
            prop["x-unavailable"] = [o for o in options if o.get("reasons")]
    return schema


def field_path(error: SchemaError) -> str:
    """The dotted path of the field a JSON Schema error is about (``""`` for the whole form)."""
    return ".".join(str(part) for part in error.absolute_path)


def validate_form(schema: dict[str, Any], data: object) -> dict[str, list[Text]]:
    """Return ``{field_path: [messages]}`` for ``data``; empty when it is valid.

    Fields the form does not define are refused too, so a form with wrong fields changes
    nothing. Messages are :class:`~engine.errors.Text` written for the person filling in the
    form, not the schema's author.
    """
    if not is_object(data):
        return {"": [Text("The form data must be an object.")]}
    errors: dict[str, list[Text]] = {}
    known = set(_properties(schema))
    if known:
        for name in sorted(set(data) - known):
            errors.setdefault(name, []).append(Text("This form has no such field."))
    validator = _validator(schema or {})
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = field_path(error)
        if error.validator == "additionalProperties" and is_object(error.instance):
            for name in sorted(set(error.instance) - set(_properties(_schema_of(error)))):
                unknown = f"{path}.{name}" if path else name
                if unknown not in errors:
                    errors[unknown] = [Text("This form has no such field.")]
            continue
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = f"{path}.{missing}" if path and missing else (missing or path)
        errors.setdefault(path, []).append(_message(error))
    return errors


_TYPE_MESSAGES = {
    "string": Text("Enter text."), "integer": Text("Enter a whole number."), "number": Text("Enter a number."),
    "boolean": Text("Choose yes or no."), "array": Text("Choose or add entries."),
    "object": Text("Fill in the group of fields."),
}


# Messages that name the schema's limit, and messages that need nothing from it.
_LIMIT_MESSAGES: dict[str, Callable[[object], Text]] = {
    "minLength": lambda n: Text("Enter at least %(limit)s characters.", limit=n),
    "maxLength": lambda n: Text("Enter at most %(limit)s characters.", limit=n),
    "minimum": lambda n: Text("Enter a number of at least %(limit)s.", limit=n),
    "exclusiveMinimum": lambda n: Text("Enter a number above %(limit)s.", limit=n),
    "maximum": lambda n: Text("Enter a number of at most %(limit)s.", limit=n),
    "exclusiveMaximum": lambda n: Text("Enter a number below %(limit)s.", limit=n),
    "minItems": lambda n: Text("Choose or add at least %(limit)s.", limit=n),
    "maxItems": lambda n: Text("Choose or add at most %(limit)s.", limit=n),
}
_CHOICE = Text("Choose one of the offered values.")
_FORMAT = Text("This is not in the expected format.")
_FIXED_MESSAGES = {"enum": _CHOICE, "const": _CHOICE, "format": _FORMAT, "pattern": _FORMAT,
                   "uniqueItems": Text("Each entry may appear only once.")}


def _schema_of(error: SchemaError) -> Mapping[str, Any]:
    """The (sub)schema the value failed ({} when the error does not say)."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _first_type(names: object) -> str:
    """The type a ``type`` keyword names first (it names one, or a list)."""
    if isinstance(names, str):
        return names
    return str(names[0]) if _is_array(names) and names else ""


def _message(error: SchemaError) -> Text:
    """What the person filling in the form should read for a JSON Schema error."""
    kind = error.validator if isinstance(error.validator, str) else ""
    limit: object = error.validator_value
    if kind == "required" or (kind in ("minLength", "minItems") and limit == 1):
        return Text("This field is required.")
    if kind == "type":
        return _TYPE_MESSAGES.get(_first_type(limit), Text("This value is of the wrong kind."))
    if kind in _LIMIT_MESSAGES:
        return _LIMIT_MESSAGES[kind](limit)
    if kind == "enum" and _schema_of(error).get("x-choices"):
        return Text("“%(value)s” is not one of the people you can choose.", value=error.instance)
    return _FIXED_MESSAGES.get(kind) or Text(error.message)
