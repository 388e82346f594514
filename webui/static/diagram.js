// The instance's diagram (bpmn-js NavigatedViewer) with done, waiting and current elements marked.
(function () {
  "use strict";

  function mark(box) {
    var viewer = new BpmnJS({container: box, height: box.getAttribute("data-height") || 420});
    var read = function (name) { return JSON.parse(box.getAttribute("data-" + name) || "[]"); };
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
        canvas.zoom("fit-viewport");
        // A wide diagram fitted into a side column is unreadable: centre on the task instead.
        var focus = read("current").map(function (id) { return registry.get(id); }).filter(Boolean)[0];
        if (focus && box.clientWidth < 700) {
          canvas.zoom(0.7);
          canvas.scrollToElement(focus, {top: 80, bottom: 80, left: 120, right: 120});
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
