// The form designer: a form's fields as rows a person edits (kind, Chinese and English label,
// required, limits, help, choices, table columns), written as the JSON Schema the engine
// reads. Keys of the schema the designer does not manage are kept as they were.
// window.SansheFormDesigner(box, schema, text, onChange) -> {schema(): object}
(function () {
  "use strict";

  var KINDS = ["text", "textarea", "number", "integer", "money", "date", "choice", "yesno", "table", "file"];
  var MANAGED = ["type", "title", "x-title-en", "description", "x-description-en", "x-widget", "format", "enum",
                 "x-enum-titles", "x-enum-titles-en", "minimum", "maximum", "minLength", "maxLength", "minItems",
                 "maxItems", "items"];

  function kindOf(prop) {
    var widget = prop["x-widget"];
    if (widget === "textarea" || widget === "money" || widget === "file") return widget;
    if (prop["enum"]) return "choice";
    if (prop.type === "boolean") return "yesno";
    if (prop.type === "integer") return "integer";
    if (prop.type === "number") return "number";
    if (prop.type === "array" && prop.items && prop.items.type === "object") return "table";
    if (prop.type === "string" && prop.format === "date") return "date";
    if (prop.type === "string" && !prop.format) return "text";
    return null;  // kept as it is (not editable here)
  }

  function fieldsOf(schema) {
    var required = schema.required || [];
    return Object.keys(schema.properties || {}).map(function (key) {
      var prop = schema.properties[key];
      var f = {key: key, kind: kindOf(prop), raw: prop, required: required.indexOf(key) >= 0,
               zh: prop.title || "", en: prop["x-title-en"] || "", helpZh: prop.description || "",
               helpEn: prop["x-description-en"] || "", min: "", max: "", options: [], columns: []};
      if (f.kind === "text" || f.kind === "textarea") { f.min = prop.minLength; f.max = prop.maxLength; }
      if (f.kind === "number" || f.kind === "integer" || f.kind === "money") { f.min = prop.minimum; f.max = prop.maximum; }
      if (f.kind === "table") {
        f.min = prop.minItems; f.max = prop.maxItems;
        f.columns = fieldsOf(prop.items || {});
      }
      if (f.kind === "choice") {
        var zh = prop["x-enum-titles"] || [], en = prop["x-enum-titles-en"] || [];
        f.options = prop["enum"].map(function (v, i) { return {value: v, zh: zh[i] || String(v), en: en[i] || ""}; });
      }
      if (f.min === undefined) f.min = "";
      if (f.max === undefined) f.max = "";
      return f;
    });
  }

  function number(text) {
    if (text === "" || text === null || text === undefined) return undefined;
    var n = Number(text);
    return isNaN(n) ? undefined : n;
  }

  function propertyOf(f) {
    if (!f.kind) return f.raw;
    var prop = {};
    Object.keys(f.raw || {}).forEach(function (k) { if (MANAGED.indexOf(k) < 0) prop[k] = f.raw[k]; });
    var types = {text: "string", textarea: "string", number: "number", integer: "integer", money: "number",
                 date: "string", choice: "string", yesno: "boolean", table: "array", file: "string"};
    prop.type = types[f.kind];
    if (f.zh) prop.title = f.zh;
    if (f.en) prop["x-title-en"] = f.en;
    if (f.helpZh) prop.description = f.helpZh;
    if (f.helpEn) prop["x-description-en"] = f.helpEn;
    if (f.kind === "textarea" || f.kind === "money" || f.kind === "file") prop["x-widget"] = f.kind;
    if (f.kind === "date") prop.format = "date";
    var lo = number(f.min), hi = number(f.max);
    if (f.kind === "text" || f.kind === "textarea") {
      if (lo !== undefined) prop.minLength = lo;
      else if (f.required) prop.minLength = 1;
      if (hi !== undefined) prop.maxLength = hi;
    }
    if (f.kind === "number" || f.kind === "integer" || f.kind === "money") {
      if (lo !== undefined) prop.minimum = lo;
      if (hi !== undefined) prop.maximum = hi;
    }
    if (f.kind === "choice") {
      prop["enum"] = f.options.map(function (o) { return o.value; });
      prop["x-enum-titles"] = f.options.map(function (o) { return o.zh; });
      if (f.options.some(function (o) { return o.en; })) prop["x-enum-titles-en"] = f.options.map(function (o) { return o.en || o.zh; });
    }
    if (f.kind === "table") {
      var items = {};
      Object.keys((f.raw && f.raw.items) || {}).forEach(function (k) {
        if (k !== "properties" && k !== "required") items[k] = f.raw.items[k];
      });
      items.type = "object";
      schemaInto(items, f.columns);
      prop.items = items;
      if (lo !== undefined) prop.minItems = lo;
      else if (f.required) prop.minItems = 1;
      if (hi !== undefined) prop.maxItems = hi;
    }
    return prop;
  }

  function schemaInto(target, fields) {
    target.properties = {};
    fields.forEach(function (f) { target.properties[f.key] = propertyOf(f); });
    var required = fields.filter(function (f) { return f.required; }).map(function (f) { return f.key; });
    if (required.length) target.required = required; else delete target.required;
    return target;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function Designer(box, schema, text, onChange) {
    this.box = box;
    this.base = schema || {type: "object"};
    this.t = text;
    this.onChange = onChange || function () {};
    this.title = {zh: this.base.title || "", en: this.base["x-title-en"] || ""};
    this.fields = fieldsOf(this.base);
    this.draw();
  }

  Designer.prototype.schema = function () {
    var out = {};
    Object.keys(this.base).forEach(function (k) { out[k] = this.base[k]; }, this);
    if (!out.$schema) out.$schema = "https://json-schema.org/draft/2020-12/schema";
    out.type = "object";
    if (this.title.zh) out.title = this.title.zh;
    if (this.title.en) out["x-title-en"] = this.title.en;
    return schemaInto(out, this.fields);
  };

  Designer.prototype.changed = function (redraw) {
    if (redraw) this.draw();
    this.onChange(this.schema());
  };

  Designer.prototype.input = function (label, value, set, attrs) {
    var self = this;
    var node = el("input", attrs || {});
    node.value = value === undefined || value === null ? "" : value;
    node.addEventListener("change", function () { set(node.value.trim()); self.changed(false); });
    return el("label", {"class": "panel-field"}, [el("span", {text: label}), node]);
  };

  Designer.prototype.draw = function () {
    var self = this, t = this.t;
    this.box.textContent = "";
    this.box.appendChild(el("div", {"class": "designer-title"}, [
      this.input(t.formTitleZh, this.title.zh, function (v) { self.title.zh = v; }, {"data-designer": "title-zh"}),
      this.input(t.formTitleEn, this.title.en, function (v) { self.title.en = v; }, {"data-designer": "title-en"})
    ]));
    this.box.appendChild(this.fieldList(this.fields, false));
  };

  Designer.prototype.fieldList = function (fields, inTable) {
    var self = this, t = this.t;
    var list = el("ol", {"class": inTable ? "designer-fields columns" : "designer-fields"});
    fields.forEach(function (f, index) { list.appendChild(self.fieldRow(fields, f, index, inTable)); });
    var add = el("button", {type: "button", "class": "link", "data-designer": inTable ? "add-column" : "add-field",
                            text: inTable ? t.addColumn : t.addField});
    add.addEventListener("click", function () {
      var n = fields.length + 1;
      while (fields.some(function (x) { return x.key === "field_" + n; })) n++;
      fields.push({key: "field_" + n, kind: "text", raw: {}, required: false, zh: "", en: "", helpZh: "", helpEn: "",
                   min: "", max: "", options: [], columns: []});
      self.changed(true);
    });
    return el("div", {}, [list, add]);
  };

  Designer.prototype.fieldRow = function (fields, f, index, inTable) {
    var self = this, t = this.t;
    var row = el("li", {"class": "designer-field", "data-key": f.key});
    if (!f.kind) {
      row.appendChild(el("p", {"class": "muted", text: (f.zh || f.key) + " — " + t.keptAsIs}));
      return row;
    }
    var kinds = el("select", {"data-designer": "kind"});
    KINDS.filter(function (k) { return !inTable || (k !== "table" && k !== "file"); }).forEach(function (k) {
      var option = el("option", {value: k, text: t.kinds[k]});
      if (k === f.kind) option.selected = true;
      kinds.appendChild(option);
    });
    kinds.addEventListener("change", function () {
      f.kind = kinds.value;
      if (f.kind === "choice" && !f.options.length) f.options = [{value: "option_1", zh: "", en: ""}];
      self.changed(true);
    });
    var required = el("input", {type: "checkbox", "data-designer": "required"});
    required.checked = f.required;
    required.addEventListener("change", function () { f.required = required.checked; self.changed(false); });
    var head = el("div", {"class": "designer-head"}, [
      el("label", {"class": "panel-field"}, [el("span", {text: t.kind}), kinds]),
      this.input(t.labelZh, f.zh, function (v) { f.zh = v; }, {"data-designer": "label-zh"}),
      this.input(t.labelEn, f.en, function (v) { f.en = v; }, {"data-designer": "label-en"}),
      el("label", {"class": "designer-check"}, [required, el("span", {text: t.required})])
    ]);
    row.appendChild(head);
    var more = el("div", {"class": "designer-more"});
    if (["text", "textarea", "number", "integer", "money", "table"].indexOf(f.kind) >= 0) {
      var what = f.kind === "table" ? t.rows : ((f.kind === "text" || f.kind === "textarea") ? t.length : t.value);
      more.appendChild(this.input(t.min + " (" + what + ")", f.min, function (v) { f.min = v; },
        {type: "number", "data-designer": "min"}));
      more.appendChild(this.input(t.max + " (" + what + ")", f.max, function (v) { f.max = v; },
        {type: "number", "data-designer": "max"}));
    }
    more.appendChild(this.input(t.helpZh, f.helpZh, function (v) { f.helpZh = v; }, {"data-designer": "help-zh"}));
    more.appendChild(this.input(t.helpEn, f.helpEn, function (v) { f.helpEn = v; }, {"data-designer": "help-en"}));
    more.appendChild(this.input(t.key, f.key, function (v) {
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) && !fields.some(function (x) { return x !== f && x.key === v; })) f.key = v;
      else self.changed(true);
    }, {"data-designer": "key", "class": "code"}));
    row.appendChild(more);
    if (f.kind === "choice") row.appendChild(this.optionList(f));
    if (f.kind === "table") {
      row.appendChild(el("p", {"class": "muted", text: t.columns}));
      row.appendChild(this.fieldList(f.columns, true));
    }
    var tools = el("div", {"class": "designer-tools"});
    [["up", t.up, index > 0], ["down", t.down, index < fields.length - 1], ["remove", t.remove, true]].forEach(function (b) {
      if (!b[2]) return;
      var button = el("button", {type: "button", "class": "link", "data-designer": b[0], text: b[1]});
      button.addEventListener("click", function () {
        fields.splice(index, 1);
        if (b[0] === "up") fields.splice(index - 1, 0, f);
        if (b[0] === "down") fields.splice(index + 1, 0, f);
        self.changed(true);
      });
      tools.appendChild(button);
    });
    row.appendChild(tools);
    return row;
  };

  Designer.prototype.optionList = function (f) {
    var self = this, t = this.t;
    var box = el("div", {"class": "designer-options"}, [el("p", {"class": "muted", text: t.options})]);
    f.options.forEach(function (o, i) {
      var line = el("div", {"class": "share-row"});
      [["zh", t.labelZh], ["en", t.labelEn]].forEach(function (pair) {
        var node = el("input", {placeholder: pair[1], "data-designer": "option-" + pair[0]});
        node.value = o[pair[0]] || "";
        node.addEventListener("change", function () { o[pair[0]] = node.value.trim(); self.changed(false); });
        line.appendChild(node);
      });
      var remove = el("button", {type: "button", "class": "link", text: t.remove});
      remove.addEventListener("click", function () { f.options.splice(i, 1); self.changed(true); });
      line.appendChild(remove);
      box.appendChild(line);
    });
    var add = el("button", {type: "button", "class": "link", "data-designer": "add-option", text: t.addOption});
    add.addEventListener("click", function () {
      var n = f.options.length + 1;
      while (f.options.some(function (o) { return o.value === "option_" + n; })) n++;
      f.options.push({value: "option_" + n, zh: "", en: ""});
      self.changed(true);
    });
    box.appendChild(add);
    return box;
  };

  // A preview of the schema as people will see it, rendered by the server.
  function preview(url, token, target) {
    var timer = null;
    return function (schema) {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var body = new FormData();
        body.append("schema", JSON.stringify(schema));
        fetch(url, {method: "POST", body: body, credentials: "same-origin", headers: {"X-CSRFToken": token}})
          .then(function (r) { return r.text(); })
          .then(function (html) { target.innerHTML = html; });
      }, 250);
    };
  }

  window.SansheFormDesigner = function (box, schema, text, onChange) { return new Designer(box, schema, text, onChange); };
  window.SansheFormDesigner.preview = preview;

  // The form page: the designer writes the schema into the page's JSON text and preview.
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("form-designer");
    var textarea = document.getElementById("schema");
    if (!box || !textarea) return;
    var text = JSON.parse(document.getElementById("designer-text").textContent);
    var schema;
    try { schema = JSON.parse(textarea.value); } catch (err) { return; }
    var token = document.querySelector('[name="csrf_token"]').value;
    var show = preview(box.getAttribute("data-preview-url"), token, document.getElementById("form-preview"));
    window.SansheFormDesigner(box, schema, text, function (changed) {
      textarea.value = JSON.stringify(changed, null, 2);
      show(changed);
    });
    box.setAttribute("data-ready", "true");
  });
})();
