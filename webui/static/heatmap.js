// Mean time per task as coloured overlays on the diagram (bpmn-js overlays).
(function () {
  "use strict";
  function days(s) { return s >= 86400 ? (s / 86400).toFixed(1) + "d" : (s / 3600).toFixed(1) + "h"; }
  function paint(box) {
    var viewer = new BpmnJS({container: box, height: box.getAttribute("data-height") || 420});
    var heat = JSON.parse(box.getAttribute("data-heat") || "{}");
    var max = Math.max.apply(null, Object.keys(heat).map(function (k) { return heat[k].mean || 0; }).concat([1]));
    fetch(box.getAttribute("data-bpmn-url"), {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var overlays = viewer.get("overlays"), registry = viewer.get("elementRegistry");
        Object.keys(heat).forEach(function (id) {
          if (!registry.get(id)) return;
          var share = (heat[id].mean || 0) / max;
          var colour = "hsl(" + Math.round(120 - 120 * share) + ", 75%, 45%)";
          var html = "<div class=\"heat\" style=\"background:" + colour + "\" title=\"n=" + heat[id].n + "\">" +
            days(heat[id].mean || 0) + " · " + heat[id].n + "</div>";
          overlays.add(id, {position: {bottom: 4, left: 0}, html: html});
        });
        viewer.get("canvas").zoom("fit-viewport");
        box.setAttribute("data-ready", "true");
      })
      .catch(function (err) { box.setAttribute("data-ready", "error"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.BpmnJS) return;
    document.querySelectorAll(".heatmap[data-heat]").forEach(paint);
  });
})();
