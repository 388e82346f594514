// The diagram editor: bpmn-js Modeler in the user's language (modeler-i18n.js), the side
// panel for what the engine reads (admin-panel.js), and saving as a new version (validated
// on the server).
(function () {
  "use strict";

  var ROLE_PROPERTY = "role";

  function config() {
    var node = document.getElementById("modeler-config");
    return node ? JSON.parse(node.textContent) : {roles: [], steps: [], forms: [], topics: [], text: {}};
  }

  // Lanes named by a role key are shown by the role's name in the user's language, the key
  // kept as the lane's "role" property (how the engine reads a lane's role).
  function nameLanes(modeler, cfg) {
    var labels = {};
    cfg.roles.forEach(function (r) { labels[r.key] = r.label; });
    modeler.get("elementRegistry").filter(function (e) { return e.type === "bpmn:Lane"; }).forEach(function (lane) {
      var bo = lane.businessObject;
      if (!window.SanshePanel.readProperty(bo, ROLE_PROPERTY) && labels[bo.name]) {
        window.SanshePanel.writeProperty(modeler, lane, ROLE_PROPERTY, bo.name);
        modeler.get("modeling").updateProperties(lane, {name: labels[bo.name]});
      }
    });
    modeler.get("commandStack").clear();
  }

  // For an engine that still reads a lane's role from its name: the saved diagram names each
  // lane by its role key again.
  function laneNamesAsRoles(xml) {
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
    var BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL";
    Array.prototype.forEach.call(doc.getElementsByTagNameNS(BPMN, "lane"), function (lane) {
      Array.prototype.forEach.call(lane.getElementsByTagNameNS(SPIFF, "property"), function (prop) {
        if (prop.getAttribute("name") !== ROLE_PROPERTY || prop.parentNode.parentNode.parentNode !== lane) return;
        lane.setAttribute("name", prop.getAttribute("value"));
        var props = prop.parentNode;
        props.removeChild(prop);
        if (!props.getElementsByTagNameNS(SPIFF, "property").length) {
          var ext = props.parentNode;
          ext.removeChild(props);
          if (!ext.children.length) lane.removeChild(ext);
        }
      });
    });
    return new XMLSerializer().serializeToString(doc);
  }

  // A new form made in the designer (in a dialog) goes with the diagram when it is saved.
  function newFormDialog(form, cfg) {
    var dialog = document.getElementById("form-dialog");
    if (!dialog || !window.SansheFormDesigner) return null;
    var text = JSON.parse(document.getElementById("designer-text").textContent);
    var token = form.querySelector('[name="csrf_token"]').value;
    var show = window.SansheFormDesigner.preview(dialog.getAttribute("data-preview-url"), token,
                                                 dialog.querySelector("[data-preview]"));
    var nameInput = dialog.querySelector('[name="designer_name"]');
    var designer = null, done = null;
    dialog.querySelector("[data-add]").addEventListener("click", function () {
      var name = nameInput.value.trim().replace(/\.schema\.json$|\.json$/, "");
      if (!/^[A-Za-z0-9_-]+$/.test(name)) { nameInput.setCustomValidity(text.badName); nameInput.reportValidity(); return; }
      nameInput.setCustomValidity("");
      var filename = name + ".schema.json";
      var schema = designer.schema();
      schema.$id = filename;
      [["new_form_name", filename], ["new_form_schema", JSON.stringify(schema)]].forEach(function (pair) {
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = pair[0]; hidden.value = pair[1];
        form.appendChild(hidden);
      });
      if (!cfg.forms.some(function (f) { return f.name === filename; })) cfg.forms.push({name: filename, title: schema.title || filename});
      dialog.close();
      if (done) done(filename);
    });
    dialog.querySelector("[data-cancel]").addEventListener("click", function () { dialog.close(); });
    return function (callback) {
      done = callback;
      nameInput.value = "";
      designer = window.SansheFormDesigner(dialog.querySelector("[data-designer-box]"), {type: "object"}, text, show);
      show(designer.schema());
      dialog.showModal();
    };
  }

  // A trial run of the diagram as it is now: the server runs it in a sandbox and answers
  // with its report (or the findings that keep it from running).
  function trial(modeler, cfg, form, button, box) {
    var status = document.getElementById("modeler-status");
    status.textContent = button.getAttribute("data-running");
    button.disabled = true;
    return modeler.saveXML({format: true}).then(function (result) {
      form.querySelector("#bpmn-xml").value = cfg.laneRoleProperty ? result.xml : laneNamesAsRoles(result.xml);
      var token = form.querySelector('[name="csrf_token"]').value;
      var body = new FormData(form);
      if (button.getAttribute("data-trial-mode")) body.append("mode", button.getAttribute("data-trial-mode"));
      box.querySelectorAll("select[data-choice]").forEach(function (choice) {
        body.append("choice." + choice.getAttribute("data-choice"), choice.value);
      });
      return fetch(button.getAttribute("data-trial-url"), {method: "POST", body: body,
        credentials: "same-origin", headers: {"X-CSRFToken": token}});
    }).then(function (response) { return response.text(); }).then(function (html) {
      box.innerHTML = html;
      var again = box.querySelector("[data-trial-again]");
      if (again) again.addEventListener("click", function () { trial(modeler, cfg, form, button, box); });
      status.textContent = "";
      box.scrollIntoView({behavior: "smooth"});
    }).catch(function (err) { status.textContent = String(err); }).then(function () { button.disabled = false; });
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

  function save(modeler, cfg, form, status, findingsBox) {
    status.textContent = form.getAttribute("data-saving") || "…";
    return modeler.saveXML({format: true}).then(function (result) {
      form.querySelector("#bpmn-xml").value = cfg.laneRoleProperty ? result.xml : laneNamesAsRoles(result.xml);
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
    var cfg = config();
    var modeler = new window.BpmnJS({container: box, height: "100%",
                                     additionalModules: [window.SansheModelerI18n.module(cfg.locale)]});
    window.sanshModeler = modeler;
    cfg.newForm = newFormDialog(form, cfg);
    var panel = window.SanshePanel(modeler, document.getElementById("element-fields"), cfg);
    // Form files chosen for upload can be picked in the panel right away.
    var files = form.querySelector('input[name="forms"]');
    if (files) files.addEventListener("change", function () {
      Array.prototype.forEach.call(files.files, function (file) {
        if (!cfg.forms.some(function (f) { return f.name === file.name; })) cfg.forms.push({name: file.name, title: file.name});
      });
      panel.show(panel.current);
    });
    var pending = form.querySelector("#bpmn-xml").value;
    var load = pending ? Promise.resolve(pending) : fetch(form.getAttribute("data-bpmn-url"), {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); });
    load.then(function (xml) { return modeler.importXML(xml); })
      .then(function () {
        nameLanes(modeler, cfg);
        modeler.get("canvas").zoom("fit-viewport");
        var loading = box.querySelector(".diagram-loading");
        if (loading) loading.remove();
        box.setAttribute("data-ready", "true");
      })
      .catch(function (err) {
        box.setAttribute("data-ready", "error");
        box.insertAdjacentText("beforeend", "diagram: " + String(err));
      });
    form.querySelectorAll("[data-trial-url]").forEach(function (trialButton) {
      trialButton.addEventListener("click", function () {
        trial(modeler, cfg, form, trialButton, document.getElementById("trial-box"));
      });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      save(modeler, cfg, form, document.getElementById("modeler-status"), document.getElementById("modeler-findings"));
    });
  });
})();
