// The modeler's side panel: everything the engine reads from a diagram, as fields in the
// user's language, written through bpmn-js's modeling API (so undo and saving see it).
// window.SanshePanel(modeler, box, config) with config from webui/modeler.py.
(function () {
  "use strict";

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var TASKS = ["bpmn:UserTask", "bpmn:ManualTask", "bpmn:ServiceTask", "bpmn:ScriptTask", "bpmn:Task",
               "bpmn:SendTask", "bpmn:ReceiveTask", "bpmn:BusinessRuleTask", "bpmn:CallActivity"];
  var STEP_TASKS = ["bpmn:UserTask", "bpmn:ManualTask", "bpmn:ServiceTask"];

  // --- reading and writing the moddle elements --------------------------------------------

  function extensionOf(bo, type) {
    var values = (bo.extensionElements && bo.extensionElements.values) || [];
    for (var i = 0; i < values.length; i++) if (values[i].$type === type) return values[i];
    return null;
  }

  function childrenOf(generic, type) {
    return ((generic && generic.$children) || []).filter(function (c) { return !type || c.$type === type; });
  }

  function readProperty(bo, name) {
    var found = childrenOf(extensionOf(bo, "spiffworkflow:properties")).filter(function (c) { return c.name === name; })[0];
    return found ? (found.value || "") : "";
  }

  function ensureExtensions(modeler, bo) {
    var moddle = modeler.get("moddle");
    var ext = bo.extensionElements || moddle.create("bpmn:ExtensionElements", {values: []});
    ext.values = ext.values || [];
    return ext;
  }

  function writeProperty(modeler, element, name, value) {
    var moddle = modeler.get("moddle");
    var bo = element.businessObject;
    var ext = ensureExtensions(modeler, bo);
    var props = extensionOf(bo, "spiffworkflow:properties");
    if (!props) {
      props = moddle.createAny("spiffworkflow:properties", SPIFF, {$children: []});
      ext.values.unshift(props);
    }
    props.$children = props.$children || [];
    var existing = props.$children.filter(function (c) { return c.name === name; })[0];
    if (!value) {
      props.$children = props.$children.filter(function (c) { return c.name !== name; });
    } else if (existing) {
      existing.value = value;
    } else {
      props.$children.push(moddle.createAny("spiffworkflow:property", SPIFF, {name: name, value: value}));
    }
    modeler.get("modeling").updateProperties(element, {extensionElements: ext});
  }

  function operatorOf(bo) { return extensionOf(bo, "spiffworkflow:serviceTaskOperator"); }

  function parametersOf(operator) {
    var holder = childrenOf(operator, "spiffworkflow:parameters")[0];
    return childrenOf(holder, "spiffworkflow:parameter");
  }

  function readParameter(bo, name) {
    var found = parametersOf(operatorOf(bo)).filter(function (p) { return p.id === name; })[0];
    return found ? (found.value || "") : "";
  }

  function writeTopic(modeler, element, topic) {
    var moddle = modeler.get("moddle");
    var bo = element.businessObject;
    var ext = ensureExtensions(modeler, bo);
    var operator = operatorOf(bo);
    if (!operator) {
      operator = moddle.createAny("spiffworkflow:serviceTaskOperator", SPIFF, {
        id: topic, resultVariable: topic + "_result",
        $children: [moddle.createAny("spiffworkflow:parameters", SPIFF, {$children: []})]
      });
      ext.values.unshift(operator);
    }
    operator.id = topic;
    modeler.get("modeling").updateProperties(element, {extensionElements: ext});
  }

  function writeParameter(modeler, element, name, value) {
    var moddle = modeler.get("moddle");
    var bo = element.businessObject;
    var ext = ensureExtensions(modeler, bo);
    var operator = operatorOf(bo);
    if (!operator) return;
    var holder = childrenOf(operator, "spiffworkflow:parameters")[0];
    if (!holder) {
      holder = moddle.createAny("spiffworkflow:parameters", SPIFF, {$children: []});
      operator.$children = (operator.$children || []).concat([holder]);
    }
    holder.$children = holder.$children || [];
    var existing = holder.$children.filter(function (p) { return p.id === name; })[0];
    if (value === "") {
      holder.$children = holder.$children.filter(function (p) { return p.id !== name; });
    } else if (existing) {
      existing.value = value;
    } else {
      holder.$children.push(moddle.createAny("spiffworkflow:parameter", SPIFF, {id: name, type: "any", value: value}));
    }
    modeler.get("modeling").updateProperties(element, {extensionElements: ext});
  }

  function readDocumentation(bo) {
    return ((bo.documentation || [])[0] || {}).text || "";
  }

  function writeDocumentation(modeler, element, text) {
    var docs = text ? [modeler.get("moddle").create("bpmn:Documentation", {text: text})] : [];
    modeler.get("modeling").updateProperties(element, {documentation: docs});
  }

  // --- values as the engine writes them ---------------------------------------------------

  function unquote(text) {
    text = (text || "").trim();
    var m = /^(["'])(.*)\1$/.exec(text);
    return m ? m[2] : text;
  }

  function parseRatio(text) {
    var m = /^\s*(?:Fraction\(\s*)?(\d+)\s*[\/,]\s*(\d+)\s*\)?\s*$/.exec(text || "");
    return m ? {n: m[1], d: m[2]} : null;
  }

  function parseDays(iso) {
    var m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?)?$/i.exec(unquote(iso));
    return m ? {days: m[1] || "", hours: m[2] || ""} : null;
  }

  function isoOf(days, hours) {
    days = parseInt(days, 10) || 0;
    hours = parseInt(hours, 10) || 0;
    if (!days && !hours) return "";
    return "P" + (days ? days + "D" : "") + (hours ? "T" + hours + "H" : "");
  }

  var CN = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

  function shareWords(n, d, locale) {
    n = parseInt(n, 10); d = parseInt(d, 10);
    if (!n || !d) return "";
    if (locale === "zh") {
      return (CN[d] || d) + "分之" + (CN[n] || n) + "（" + Math.round(n / d * 1000) / 10 + "%）";
    }
    return n + "/" + d + " (" + Math.round(n / d * 1000) / 10 + "%)";
  }

  // --- drawing the fields -------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "hidden") node.hidden = !!attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function field(label, control, help) {
    return el("label", {"class": "panel-field"}, [el("span", {text: label}), control,
      help ? el("small", {"class": "muted", text: help}) : null]);
  }

  function select(options, value, attrs, placeholder) {
    var node = el("select", attrs);
    if (placeholder !== undefined) node.appendChild(el("option", {value: "", text: placeholder}));
    options.forEach(function (o) {
      var option = el("option", {value: o.value, text: o.label});
      if (String(o.value) === String(value)) option.selected = true;
      node.appendChild(option);
    });
    if (value && !options.some(function (o) { return String(o.value) === String(value); })) {
      var kept = el("option", {value: value, text: value});
      kept.selected = true;
      node.appendChild(kept);
    }
    return node;
  }

  function input(value, attrs) {
    var node = el("input", attrs);
    node.value = value === undefined || value === null ? "" : value;
    return node;
  }

  function onChange(node, handler) {
    node.addEventListener("change", function () { handler(node.value.trim()); });
    return node;
  }

  function Panel(modeler, box, config) {
    this.modeler = modeler;
    this.box = box;
    this.config = config;
    this.t = config.text || {};
    this.current = null;
    var self = this;
    modeler.on("selection.changed", function (event) {
      self.show(event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    modeler.on("commandStack.changed", function () {
      // Another change of the element shown (undo, a label edited on the canvas): redraw,
      // unless the user is typing in the panel.
      if (self.current && !box.contains(document.activeElement)) self.show(self.current);
    });
    this.show(null);
  }

  Panel.prototype.show = function (element) {
    var t = this.t;
    this.current = element;
    this.box.textContent = "";
    if (!element || element.type === "label") {
      this.box.appendChild(el("p", {"class": "muted", "data-empty": "", text: t.empty}));
      return;
    }
    var bo = element.businessObject;
    var parts = [field(t.id, input(bo.id, {"data-prop": "id", readonly: "readonly"}))];
    if (element.type !== "bpmn:Process" && element.type !== "bpmn:Collaboration") parts.push(this.nameField(element));
    if (element.type === "bpmn:Lane") parts.push(this.roleField(element));
    if (STEP_TASKS.indexOf(element.type) >= 0) parts.push(this.stepField(element));
    if (element.type === "bpmn:UserTask") parts = parts.concat(this.userTaskFields(element));
    if (element.type === "bpmn:ServiceTask") parts = parts.concat(this.serviceFields(element));
    if (this.timerOf(bo)) parts = parts.concat(this.timerFields(element));
    if (element.type === "bpmn:SequenceFlow" && bo.sourceRef && /Gateway$/.test(bo.sourceRef.$type)) {
      parts.push(this.conditionField(element));
    }
    if (TASKS.indexOf(element.type) >= 0 || /Event$/.test(element.type)) parts.push(this.documentationField(element));
    var form = el("div", {"class": "stack", "data-fields": "", "data-type": element.type}, parts);
    this.box.appendChild(form);
  };

  Panel.prototype.nameField = function (element) {
    var modeling = this.modeler.get("modeling");
    return field(this.t.name, onChange(input(element.businessObject.name || "", {"data-prop": "name"}), function (v) {
      modeling.updateProperties(element, {name: v});
    }));
  };

  Panel.prototype.roleField = function (element) {
    var self = this;
    var bo = element.businessObject;
    var role = readProperty(bo, "role") || bo.name || "";
    var roles = this.config.roles.map(function (r) { return {value: r.key, label: r.label}; });
    return field(this.t.role, onChange(select(roles, role, {"data-prop": "role"}, this.t.chooseRole), function (v) {
      writeProperty(self.modeler, element, "role", v);
    }));
  };

  Panel.prototype.stepField = function (element) {
    var self = this;
    var steps = this.config.steps.map(function (s) { return {value: s.value, label: s.label}; });
    var value = readProperty(element.businessObject, "step");
    return field(this.t.step, onChange(select(steps, value, {"data-prop": "step"}, this.t.chooseStep), function (v) {
      writeProperty(self.modeler, element, "step", v);
    }));
  };

  Panel.prototype.userTaskFields = function (element) {
    var self = this;
    var bo = element.businessObject;
    var forms = this.config.forms.map(function (f) { return {value: f.name, label: f.title + " (" + f.name + ")"}; });
    var formSelect = onChange(select(forms, readProperty(bo, "formJsonSchemaFilename"),
      {"data-prop": "formJsonSchemaFilename"}, this.t.chooseForm), function (v) {
      writeProperty(self.modeler, element, "formJsonSchemaFilename", v);
    });
    var fields = [field(this.t.form, formSelect)];
    if (this.config.newForm) {
      var create = el("button", {type: "button", "class": "link", "data-testid": "new-form", text: this.t.newForm});
      create.addEventListener("click", function () {
        self.config.newForm(function (name) {
          writeProperty(self.modeler, element, "formJsonSchemaFilename", name);
          self.show(element);
        });
      });
      fields.push(el("p", {"class": "panel-links"}, [create]));
    }
    // Due in calendar days (dueIn, P7D) or in working days (dueInWorkingDays, 5).
    var working = readProperty(bo, "dueInWorkingDays");
    var due = parseDays(readProperty(bo, "dueIn"));
    var days = input(working || (due ? due.days : ""), {"data-prop": "dueDays", type: "number", min: "1", step: "1",
                                                        inputmode: "numeric"});
    var unit = select([{value: "days", label: this.t.calendarDays}, {value: "working", label: this.t.workingDays}],
                      working ? "working" : "days", {"data-prop": "dueUnit"});
    var writeDue = function () {
      var n = parseInt(days.value, 10);
      var isWorking = unit.value === "working";
      writeProperty(self.modeler, element, "dueIn", n && !isWorking ? "P" + n + "D" : "");
      writeProperty(self.modeler, element, "dueInWorkingDays", n && isWorking ? String(n) : "");
    };
    days.addEventListener("change", writeDue);
    unit.addEventListener("change", writeDue);
    fields.push(field(this.t.dueDays, el("span", {"class": "ratio"}, [days, unit])));
    return fields;
  };

  Panel.prototype.serviceFields = function (element) {
    var self = this;
    var t = this.t;
    var bo = element.businessObject;
    var operator = operatorOf(bo);
    var key = operator ? operator.id : "";
    var topics = this.config.topics.map(function (topic) { return {value: topic.key, label: topic.label}; });
    var topic = this.config.topics.filter(function (x) { return x.key === key; })[0];
    var fields = [field(t.topic, onChange(select(topics, key, {"data-prop": "topic"}, t.chooseTopic), function (v) {
      if (v) writeTopic(self.modeler, element, v);
      self.show(element);
    }), topic ? topic.description : "")];
    if (!topic) return fields;
    var main = topic.params.filter(function (p) { return !p.advanced; });
    var advanced = topic.params.filter(function (p) { return p.advanced; });
    if (main.length) {
      fields.push(el("h3", {text: t.parameters}));
      main.forEach(function (p) { fields.push(self.parameterField(element, p)); });
    }
    var known = topic.params.map(function (p) { return p.name; });
    parametersOf(operator).forEach(function (p) {
      if (known.indexOf(p.id) < 0) advanced.push({name: p.id, kind: "expression", label: p.id, help: ""});
    });
    if (advanced.length) {
      var details = el("details", {"class": "panel-advanced"}, [el("summary", {text: t.advanced})]);
      advanced.forEach(function (p) { details.appendChild(self.parameterField(element, p)); });
      fields.push(details);
    }
    return fields;
  };

  Panel.prototype.parameterField = function (element, p) {
    var self = this;
    var t = this.t;
    var raw = readParameter(element.businessObject, p.name);
    var write = function (value) { writeParameter(self.modeler, element, p.name, value); };
    var help = p.help || "";
    if (p["default"] !== null && p["default"] !== undefined && p.kind !== "shares") {
      help = (help ? help + " " : "") + t["default"].replace("%(value)s", p.kind === "comparison"
        ? this.comparisonLabel(p["default"]) : p["default"]);
    }
    var attrs = {"data-param": p.name};
    if (p.kind === "ratio") {
      var ratio = parseRatio(raw) || {n: "", d: ""};
      var words = el("output", {"class": "ratio-words", text: shareWords(ratio.n, ratio.d, this.config.locale)});
      var n = input(ratio.n, {type: "number", min: "1", step: "1", "data-part": "numerator", inputmode: "numeric"});
      var d = input(ratio.d, {type: "number", min: "1", step: "1", "data-part": "denominator", inputmode: "numeric"});
      var update = function () {
        words.textContent = shareWords(n.value, d.value, self.config.locale);
        if (n.value && d.value) write(parseInt(n.value, 10) + "/" + parseInt(d.value, 10));
        else if (!n.value && !d.value) write("");
      };
      n.addEventListener("change", update);
      d.addEventListener("change", update);
      return field(p.label, el("span", Object.assign({"class": "ratio"}, attrs),
        [n, el("span", {text: "/"}), d, words]), help);
    }
    if (p.kind === "comparison") {
      return field(p.label, onChange(select(this.config.comparisons, unquote(raw), attrs, "—"), function (v) {
        write(v ? '"' + v + '"' : "");
      }), help);
    }
    if (p.kind === "number" || p.kind === "integer" || p.kind === "days") {
      var numberAttrs = Object.assign({type: "number", step: p.kind === "number" ? "any" : "1"}, attrs);
      if (p.min !== undefined) numberAttrs.min = String(p.min);
      if (p.max !== undefined) numberAttrs.max = String(p.max);
      return field(p.label, onChange(input(raw, numberAttrs), function (v) { write(v); }), help);
    }
    if (p.kind === "shares") return this.sharesField(p, raw, write, help);
    return field(p.label, onChange(input(raw, Object.assign({"class": "code", spellcheck: "false"}, attrs)), write), help);
  };

  Panel.prototype.comparisonLabel = function (value) {
    var found = this.config.comparisons.filter(function (c) { return c.value === value; })[0];
    return found ? found.label : value;
  };

  Panel.prototype.sharesField = function (p, raw, write, help) {
    var t = this.t;
    var self = this;
    var rows;
    try { rows = JSON.parse(raw || "null"); } catch (err) { rows = null; }
    if (!Array.isArray(rows)) rows = raw ? null : (p["default"] || []).map(function (r) { return r.slice(); });
    if (rows === null) {  // written as an expression: leave it to specialists
      return field(p.label, onChange(input(raw, {"class": "code", "data-param": p.name}), write), help);
    }
    var table = el("div", {"class": "shares", "data-param": p.name});
    var sum = el("output", {"class": "muted"});
    var save = function () {
      var total = rows.reduce(function (acc, r) { return acc + (parseFloat(r[1]) || 0); }, 0);
      sum.textContent = t.sum.replace("%(n)s", total).replace("%%", "%");
      write(rows.length ? JSON.stringify(rows) : "");
    };
    var draw = function () {
      table.textContent = "";
      rows.forEach(function (row, index) {
        var label = select(self.config.installmentLabels, row[0], {"data-part": "label"});
        label.addEventListener("change", function () { row[0] = label.value; save(); });
        var percent = input(row[1], {type: "number", min: "0", max: "100", step: "1", "data-part": "percent"});
        percent.addEventListener("change", function () { row[1] = parseFloat(percent.value) || 0; save(); });
        var remove = el("button", {type: "button", "class": "link", text: t.removeRow});
        remove.addEventListener("click", function () { rows.splice(index, 1); draw(); save(); });
        table.appendChild(el("div", {"class": "share-row"}, [label, percent, el("span", {text: t.percent}), remove]));
      });
      var add = el("button", {type: "button", "class": "link", text: t.addRow});
      add.addEventListener("click", function () { rows.push(["on_acceptance", 0]); draw(); save(); });
      table.appendChild(add);
    };
    draw();
    var total = rows.reduce(function (acc, r) { return acc + (parseFloat(r[1]) || 0); }, 0);
    sum.textContent = t.sum.replace("%(n)s", total).replace("%%", "%");
    return field(p.label, el("div", {}, [table, sum]), help);
  };

  Panel.prototype.timerOf = function (bo) {
    return (bo.eventDefinitions || []).filter(function (d) { return d.$type === "bpmn:TimerEventDefinition"; })[0] || null;
  };

  Panel.prototype.timerFields = function (element) {
    var self = this;
    var t = this.t;
    var moddle = this.modeler.get("moddle");
    var modeling = this.modeler.get("modeling");
    var timer = this.timerOf(element.businessObject);
    var kind = timer.timeDate ? "timeDate" : (timer.timeCycle ? "timeCycle" : "timeDuration");
    var body = ((timer[kind] || {}).body || "").trim();
    var quoted = /^["']/.test(body);
    var writeTimer = function (newKind, text) {
      var props = {timeDuration: undefined, timeDate: undefined, timeCycle: undefined};
      props[newKind] = text ? moddle.create("bpmn:FormalExpression", {body: quoted || !body ? '"' + text + '"' : text}) : undefined;
      modeling.updateModdleProperties(element, timer, props);
    };
    var kinds = [{value: "timeDuration", label: t.timerDuration}, {value: "timeDate", label: t.timerDate},
                 {value: "timeCycle", label: t.timerCycle}];
    var kindSelect = onChange(select(kinds, kind, {"data-prop": "timerKind"}), function (v) {
      writeTimer(v, v === kind ? unquote(body) : "");
      self.show(element);
    });
    var fields = [el("h3", {text: t.timer}), field(t.type, kindSelect)];
    var parsed = kind === "timeDuration" ? parseDays(body) : null;
    if (parsed) {
      var days = input(parsed.days, {type: "number", min: "0", step: "1", "data-prop": "timerDays"});
      var hours = input(parsed.hours, {type: "number", min: "0", max: "23", step: "1", "data-prop": "timerHours"});
      var update = function () { writeTimer("timeDuration", isoOf(days.value, hours.value)); };
      days.addEventListener("change", update);
      hours.addEventListener("change", update);
      fields.push(field(t.timerDays, days), field(t.timerHours, hours));
    } else {
      fields.push(field(kinds.filter(function (k) { return k.value === kind; })[0].label,
        onChange(input(unquote(body), {"data-prop": "timerText", "class": "code"}), function (v) { writeTimer(kind, v); })));
    }
    return fields;
  };

  Panel.prototype.conditionField = function (element) {
    var moddle = this.modeler.get("moddle");
    var modeling = this.modeler.get("modeling");
    var condition = element.businessObject.conditionExpression;
    var area = el("textarea", {rows: "2", "class": "code", "data-prop": "condition", spellcheck: "false"});
    area.value = condition ? condition.body || "" : "";
    return field(this.t.condition, onChange(area, function (v) {
      modeling.updateProperties(element, {
        conditionExpression: v ? moddle.create("bpmn:FormalExpression", {body: v}) : undefined});
    }));
  };

  Panel.prototype.documentationField = function (element) {
    var self = this;
    var area = el("textarea", {rows: "3", "data-prop": "documentation"});
    area.value = readDocumentation(element.businessObject);
    return field(this.t.documentation, onChange(area, function (v) { writeDocumentation(self.modeler, element, v); }));
  };

  // The step a BPMN group stands for: its "step" property, else the number in its label
  // ("第三步", "Step 3").
  var NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7};

  function groupStep(group) {
    var bo = group.businessObject;
    var own = readProperty(bo, "step");
    if (own) return own;
    var label = (bo.categoryValueRef && bo.categoryValueRef.value) || bo.name || "";
    var m = /第([一二三四五六七1-7])步|step\s*([1-7])/i.exec(label);
    if (!m) return "";
    return String(NUMERALS[m[1]] || m[1] || m[2]);
  }

  // A task put down inside a step's group belongs to that step unless it says otherwise.
  function stepsFromGroups(modeler) {
    modeler.get("eventBus").on("commandStack.shape.create.postExecuted", function (event) {
      var shape = event.context.shape;
      if (STEP_TASKS.indexOf(shape.type) < 0 || readProperty(shape.businessObject, "step")) return;
      var cx = shape.x + shape.width / 2, cy = shape.y + shape.height / 2;
      // The innermost group around it: a step's group may sit inside a larger one.
      var group = modeler.get("elementRegistry").filter(function (e) {
        return e.type === "bpmn:Group" && cx >= e.x && cx <= e.x + e.width && cy >= e.y && cy <= e.y + e.height;
      }).sort(function (a, b) { return a.width * a.height - b.width * b.height; })[0];
      var step = group ? groupStep(group) : "";
      if (step) writeProperty(modeler, shape, "step", step);
    });
  }

  window.SanshePanel = function (modeler, box, config) {
    stepsFromGroups(modeler);
    return new Panel(modeler, box, config);
  };
  window.SanshePanel.groupStep = groupStep;
  window.SanshePanel.readProperty = readProperty;
  window.SanshePanel.writeProperty = writeProperty;
})();
