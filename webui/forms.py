"""Forms from JSON Schema: the field tree a template renders, and typed data from a POST.

Field names in HTML are dotted paths (``budget_lines.0.amount``), the same paths the
engine's ValidationError uses, so each message lands at its field. Widgets follow the
schema: ``type``/``format``/``enum`` plus ``x-widget`` (textarea, money, file).
"""
import json
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _

from engine.errors import ValidationError

from .i18n import is_english, localized, translated

ROW_PLACEHOLDER = "__i__"


@dataclass
class Field:
    path: str
    schema: dict
    widget: str
    label: str
    help: str = ""
    required: bool = False
    value: object = None
    errors: list = field(default_factory=list)
    options: list = field(default_factory=list)  # [(value, label)]
    children: list = field(default_factory=list)  # object properties
    rows: list = field(default_factory=list)  # arrays of objects: [[Field, ...], ...]
    template: list = field(default_factory=list)  # one empty row with ROW_PLACEHOLDER in paths

    @property
    def name(self):
        return self.path

    @property
    def dom_id(self):
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)


def widget_of(schema):
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    explicit = schema.get("x-widget")
    if explicit in ("textarea", "money", "file"):
        return explicit
    if "enum" in schema:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return kind
    if kind == "array":
        items = schema.get("items", {})
        if items.get("type") == "object":
            return "table"
        if "enum" in items:
            return "multiselect"
        return "lines"
    if kind == "object":
        return "object"
    if schema.get("format") == "date":
        return "date"
    if schema.get("format") == "date-time":
        return "datetime"
    return explicit or "text"


def enum_options(schema):
    values = schema.get("enum", [])
    titles = schema.get("x-enum-titles-en" if is_english() else "x-enum-titles") or schema.get("x-enum-titles") or []
    return [(value, titles[i] if i < len(titles) else str(value)) for i, value in enumerate(values)]


def build_fields(schema, data=None, errors=None, prefix=""):
    """The field tree for ``schema`` filled with ``data`` and ``errors`` ({path: [msg]})."""
    data = data if isinstance(data, dict) else {}
    errors = errors or {}
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        if prop.get("x-hidden") or prop.get("readOnly"):
            continue
        path = f"{prefix}{name}"
        widget = widget_of(prop)
        messages = list(errors.get(path, []))
        if widget in ("multiselect", "lines"):  # a refused entry of a list shows at the list
            messages += [m for key, found in errors.items() if key.startswith(path + ".") for m in found]
        f = Field(path, prop, widget, localized(prop) or name, localized(prop, "description"),
                  name in required, data.get(name), [translated(m) for m in messages])
        if widget in ("select", "multiselect"):
            f.options = enum_options(prop if widget == "select" else prop.get("items", {}))
        elif widget == "object":
            f.children = build_fields(prop, data.get(name), errors, f"{path}.")
        elif widget == "table":
            items = prop.get("items", {})
            given = data.get(name)
            values = given if isinstance(given, list) else []
            f.rows = [build_fields(items, row, errors, f"{path}.{i}.") for i, row in enumerate(values)]
            f.template = build_fields(items, {}, {}, f"{path}.{ROW_PLACEHOLDER}.")
            f.children = f.template  # column headers
        fields.append(f)
    return fields


def unplaced_errors(fields, errors):
    """Messages whose path matches no rendered field (shown at the top of the form)."""
    placed = set()

    def walk(items):
        for f in items:
            placed.add(f.path)
            walk(f.children)
            for row in f.rows:
                walk(row)
    walk(fields)
    return [(path, message) for path, messages in errors.items()
            if not any(path == p or path.startswith(p + ".") for p in placed if p)
            for message in map(translated, messages)]


class FormInput:
    """Typed data from a submitted form, with conversion errors kept per field."""

    def __init__(self, form, files=None, store_file=None, check_kept=None):
        self.form = form
        self.files = files or {}
        self.store_file = store_file  # (path, FileStorage) -> attachment reference
        self.check_kept = check_kept  # reference sent back -> the reference, or None if not the task's
        self.errors = {}

    def parse(self, schema, prefix=""):
        data = {}
        for name, prop in schema.get("properties", {}).items():
            if prop.get("x-hidden") or prop.get("readOnly"):
                continue
            path = f"{prefix}{name}"
            value = self._value(prop, path)
            if value is not None:
                data[name] = value
        return data

    def _fail(self, path, message):
        self.errors.setdefault(path, []).append(message)

    def _value(self, prop, path):
        widget = widget_of(prop)
        raw = self.form.get(path, "")
        if widget == "checkbox":
            return path in self.form
        if widget == "object":
            return self.parse(prop, f"{path}.") or None
        if widget == "table":
            indices = sorted({int(m.group(1)) for key in self.form
                              if (m := re.match(re.escape(path) + r"\.(\d+)\.", key))})
            rows = [self.parse(prop.get("items", {}), f"{path}.{i}.") for i in indices]
            return [row for row in rows if row] or None
        if widget == "multiselect":
            # A value not offered is kept, so the schema refuses it with a message rather
            # than the form dropping it without a word.
            allowed = {str(v): v for v in prop.get("items", {}).get("enum", [])}
            return [allowed.get(v, v) for v in self.form.getlist(path) if v] or None
        if widget == "lines":
            return [line.strip() for line in raw.splitlines() if line.strip()] or None
        if widget == "file":
            return self._file(prop, path)
        raw = raw.strip() if widget != "textarea" else raw.strip("\r\n")
        if raw == "":
            return None
        if widget == "select":
            allowed = {str(v): v for v in prop.get("enum", [])}
            return allowed.get(raw, raw)
        if widget == "integer":
            try:
                return int(raw)
            except ValueError:
                self._fail(path, _("Enter a whole number."))
                return raw
        if widget in ("number", "money"):
            try:
                number = float(raw.replace(",", "").replace("¥", "").replace("￥", ""))
            except ValueError:
                self._fail(path, _("Enter a number."))
                return raw
            return int(number) if number.is_integer() else round(number, 2 if widget == "money" else 10)
        return raw

    def _file(self, prop, path):
        upload = self.files.get(path)
        if upload is not None and upload.filename and self.store_file is not None:
            try:
                return self.store_file(path, upload, prop)
            except ValidationError as exc:  # e.g. too large: shown at the field, other fields kept
                for message in exc.errors.get(path) or [exc.message]:
                    self._fail(path, message)  # translated when the fields are built
                return None
        kept = self.form.get(f"{path}.__keep")
        if not kept:
            return None
        try:
            value = json.loads(kept)
        except ValueError:
            value = None
        if value is not None and self.check_kept is not None:
            value = self.check_kept(value)
        if value is None:
            self._fail(path, _("This is not a file of this task; choose the file again."))
        return value
