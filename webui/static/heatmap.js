// Mean time per task as coloured overlays on the diagram (bpmn-js overlays): green is short,
// red is long (the legend under the diagram); the words come from the page, in its language.
(function () {
  "use strict";
  function paint(box) {
    var viewer = new BpmnJS({container: box, height: parseInt(box.getAttribute("data-height") || "420", 10)});
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
          var label = document.createElement("div");
          label.className = "heat";
          label.style.background = "hsl(" + Math.round(120 - 120 * share) + ", 75%, 38%)";
          label.textContent = heat[id].text + " · " + heat[id].n;
          // Never smaller than the page's own text, however far the diagram is zoomed out.
          overlays.add(id, {position: {bottom: 6, left: -4}, html: label, scale: {min: 1}});
        });
        // The diagram is far wider than tall: fill the box's height (at most life size) and
        // let people drag along it, rather than shrinking it to the width until nothing reads.
        var canvas = viewer.get("canvas");
        canvas.zoom("fit-viewport");
        var inner = canvas.viewbox().inner, outer = canvas.viewbox().outer;
        var zoom = Math.min(1, (outer.height - 20) / Math.max(inner.height, 1));
        canvas.viewbox({x: inner.x - 10, y: inner.y - 10, width: outer.width / zoom, height: outer.height / zoom});
        box.setAttribute("data-ready", "true");
      })
      .catch(function () { box.setAttribute("data-ready", "error"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.BpmnJS) return;
    document.querySelectorAll(".heatmap[data-heat]").forEach(paint);
  });
})();
