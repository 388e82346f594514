// The instance's diagram (bpmn-js NavigatedViewer) with done, waiting and current elements
// marked, opened on the current step at a readable size; zoom, pan and fit from the toolbar.
(function () {
  "use strict";

  var READABLE = 0.9;  // the zoom at which task names can be read

  function mark(box) {
    // The box's own CSS height, so the diagram never covers what follows it (the legend).
    var viewer = new BpmnJS({container: box, height: box.getAttribute("data-height") || "100%"});
    var read = function (name) { return JSON.parse(box.getAttribute("data-" + name) || "[]"); };
    var tools = box.previousElementSibling;
    fetch(box.getAttribute("data-bpmn-url"), {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var add = function (ids, cls) {
          ids.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, cls); });
        };
        add(read("completed"), "sanshe-done");
        add(read("active"), "sanshe-active");
        add(read("current"), "sanshe-current");
        var focusIds = read("current").length ? read("current") : read("active");
        var focus = focusIds.map(function (id) { return registry.get(id); }).filter(Boolean);

        function fit() { canvas.zoom("fit-viewport"); }
        function toFocus() {
          if (!focus.length) { fit(); return; }
          canvas.zoom(READABLE);
          canvas.scrollToElement(focus[0], {top: 100, bottom: 100, left: 160, right: 160});
        }
        toFocus();
        if (tools && tools.classList.contains("diagram-tools")) {
          tools.hidden = false;
          tools.addEventListener("click", function (event) {
            var button = event.target.closest("button[data-zoom]");
            if (!button) return;
            var how = button.getAttribute("data-zoom");
            if (how === "in") canvas.zoom(canvas.zoom() * 1.25);
            else if (how === "out") canvas.zoom(canvas.zoom() / 1.25);
            else if (how === "fit") fit();
            else toFocus();
          });
        }
        var loading = box.querySelector(".diagram-loading");
        if (loading) loading.remove();
        box.setAttribute("data-ready", "true");
      })
      .catch(function (err) {
        box.setAttribute("data-ready", "error");
        box.insertAdjacentHTML("beforeend", "<p class=\"muted\">diagram: " + String(err).replace(/[<>&]/g, "") + "</p>");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.BpmnJS) return;
    document.querySelectorAll(".diagram[data-bpmn-url]").forEach(mark);
  });
})();
