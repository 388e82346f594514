"""Form data checked against the JSON Schema a user task references."""
from jsonschema import Draft202012Validator, FormatChecker

_FORMATS = FormatChecker()
_VALIDATORS = {}  # id(schema) -> (schema, validator); the schema is kept, so its id stays its own


def _validator(schema):
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_VALIDATORS) >= 512:
            _VALIDATORS.clear()
        entry = _VALIDATORS[id(schema)] = (schema, Draft202012Validator(schema, format_checker=_FORMATS))
    return entry[1]


def field_path(error):
    return ".".join(str(part) for part in error.absolute_path)


def validate_form(schema, data):
    """Return ``{field_path: [messages]}`` for ``data``; empty when it is valid.

    Fields the form does not define are refused too, so a form with wrong fields changes
    nothing.
    """
    if not isinstance(data, dict):
        return {"": ["The form data must be an object."]}
    errors = {}
    known = set((schema or {}).get("properties", {}))
    if known:
        for name in sorted(set(data) - known):
            errors.setdefault(name, []).append("This form has no such field.")
    validator = _validator(schema or {})
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = field_path(error)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = f"{path}.{missing}" if path and missing else (missing or path)
            message = "This field is required."
        else:
            message = error.message
        errors.setdefault(path, []).append(message)
    return errors
