// The diagram editor: bpmn-js Modeler, a small panel for the properties the engine reads
// (name, step, form, due time), and saving as a new version (validated on the server).
(function () {
  "use strict";

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var EXTENSION_PROPS = ["step", "formJsonSchemaFilename", "dueIn"];
  var TASK_TYPES = ["bpmn:UserTask", "bpmn:ManualTask", "bpmn:ServiceTask"];

  function propertiesOf(bo) {
    // spiffworkflow:properties is kept by bpmn-moddle as a generic element: $children of
    // spiffworkflow:property elements with name/value attributes.
    var ext = bo.extensionElements;
    var values = (ext && ext.values) || [];
    for (var i = 0; i < values.length; i++) {
      if (values[i].$type === "spiffworkflow:properties") return values[i];
    }
    return null;
  }

  function readProperty(bo, name) {
    var props = propertiesOf(bo);
    var children = (props && props.$children) || [];
    for (var i = 0; i < children.length; i++) {
      if (children[i].name === name) return children[i].value || "";
    }
    return "";
  }

  function writeProperty(modeler, element, name, value) {
    var moddle = modeler.get("moddle");
    var bo = element.businessObject;
    var ext = bo.extensionElements || moddle.create("bpmn:ExtensionElements", {values: []});
    ext.values = ext.values || [];
    var props = propertiesOf(bo);
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

  function setTaskProperties(modeler, element, values) {
    Object.keys(values).forEach(function (key) {
      if (key === "name") modeler.get("modeling").updateProperties(element, {name: values[key]});
      else writeProperty(modeler, element, key, String(values[key]));
    });
  }

  function panel(modeler, box) {
    var fields = box.querySelector("[data-fields]");
    var empty = box.querySelector("[data-empty]");
    var current = null;
    var input = function (name) { return box.querySelector('[data-prop="' + name + '"]'); };

    modeler.on("selection.changed", function (event) {
      var element = event.newSelection.length === 1 ? event.newSelection[0] : null;
      var isTask = element && TASK_TYPES.indexOf(element.type) >= 0;
      current = isTask ? element : null;
      fields.hidden = !isTask;
      empty.hidden = !!isTask;
      if (!isTask) return;
      var bo = element.businessObject;
      input("id").value = bo.id;
      input("name").value = bo.name || "";
      EXTENSION_PROPS.forEach(function (name) { input(name).value = readProperty(bo, name); });
      box.querySelectorAll("[data-user-only]").forEach(function (label) {
        label.hidden = element.type !== "bpmn:UserTask";
      });
    });
    ["name"].concat(EXTENSION_PROPS).forEach(function (name) {
      input(name).addEventListener("change", function (event) {
        if (!current) return;
        var values = {};
        values[name] = event.target.value.trim();
        setTaskProperties(modeler, current, values);
      });
    });
  }

  function showFindings(target, findings, message) {
    target.textContent = "";
    var section = document.createElement("section");
    section.className = "card findings";
    section.setAttribute("role", "alert");
    section.setAttribute("data-testid", "findings");
    var title = document.createElement("h2");
    title.textContent = message;
    section.appendChild(title);
    var table = document.createElement("table");
    table.className = "grid";
    findings.forEach(function (f) {
      var row = table.insertRow();
      row.className = "finding " + f.severity;
      row.setAttribute("data-element-id", f.element_id || "");
      [f.file, f.line || "", f.element_id || "", f.element_name || "", f.message].forEach(function (text) {
        row.insertCell().textContent = text;
      });
    });
    section.appendChild(table);
    target.appendChild(section);
  }

  function markFindings(modeler, findings) {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    registry.getAll().forEach(function (el) { canvas.removeMarker(el.id, "sanshe-finding"); });
    findings.forEach(function (f) {
      if (f.element_id && registry.get(f.element_id)) canvas.addMarker(f.element_id, "sanshe-finding");
    });
  }

  function save(modeler, form, status, findingsBox) {
    status.textContent = form.getAttribute("data-saving") || "…";
    return modeler.saveXML({format: true}).then(function (result) {
      form.querySelector("#bpmn-xml").value = result.xml;
      var token = form.querySelector('[name="csrf_token"]').value;
      return fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"Accept": "application/json", "X-CSRFToken": token}
      });
    }).then(function (response) {
      return response.json().then(function (body) { return {status: response.status, body: body}; });
    }).then(function (reply) {
      status.textContent = reply.body.message || "";
      if (reply.body.ok) {
        findingsBox.textContent = "";
        markFindings(modeler, []);
        window.location.assign(reply.body.url);
        return;
      }
      showFindings(findingsBox, reply.body.findings || [], reply.body.message || String(reply.status));
      markFindings(modeler, reply.body.findings || []);
    }).catch(function (err) {
      status.textContent = String(err);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("modeler-form");
    if (!form || !window.BpmnJS) return;
    var box = document.getElementById("modeler");
    var modeler = new window.BpmnJS({container: box, height: 620});
    window.sanshModeler = modeler;
    window.sanshSetTaskProperties = function (element, values) { setTaskProperties(modeler, element, values); };
    panel(modeler, document.getElementById("element-properties"));
    var pending = form.querySelector("#bpmn-xml").value;
    var load = pending ? Promise.resolve(pending) : fetch(form.getAttribute("data-bpmn-url"), {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); });
    load.then(function (xml) { return modeler.importXML(xml); })
      .then(function () {
        modeler.get("canvas").zoom("fit-viewport");
        var loading = box.querySelector(".diagram-loading");
        if (loading) loading.remove();
        box.setAttribute("data-ready", "true");
      })
      .catch(function (err) {
        box.setAttribute("data-ready", "error");
        box.insertAdjacentText("beforeend", "diagram: " + String(err));
      });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      save(modeler, form, document.getElementById("modeler-status"), document.getElementById("modeler-findings"));
    });
  });
})();
