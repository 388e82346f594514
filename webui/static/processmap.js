// The process map: the directly-follows graph drawn as SVG. Tasks in bands per step (1-7),
// arrows as thick as they are frequent, labelled with how often and the mean time between;
// a slider keeps only the most frequent paths; clicking an arrow lists its projects.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var W = 168, H = 46, GAP_X = 44, BAND = 130, PAD = 48;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }
  function html(text) {
    var d = document.createElement("div");
    d.textContent = text;
    return d.innerHTML;
  }

  // Order of tasks within a step: how soon after a case's first task they come (BFS depth).
  function depths(nodes, edges) {
    var incoming = {}, out = {}, depth = {}, queue = [];
    edges.forEach(function (e) {
      if (e.source !== e.target) incoming[e.target] = (incoming[e.target] || 0) + e.count;
      (out[e.source] = out[e.source] || []).push(e);
    });
    nodes.forEach(function (n) { if (!incoming[n.id]) { depth[n.id] = 0; queue.push(n.id); } });
    if (!queue.length && nodes.length) { depth[nodes[0].id] = 0; queue.push(nodes[0].id); }
    while (queue.length) {
      var id = queue.shift();
      (out[id] || []).sort(function (a, b) { return b.count - a.count; }).forEach(function (e) {
        if (depth[e.target] === undefined) { depth[e.target] = depth[id] + 1; queue.push(e.target); }
      });
    }
    return depth;
  }

  function layout(nodes, edges) {
    var depth = depths(nodes, edges), bands = {}, steps = [];
    nodes.forEach(function (n) {
      var step = n.step === null || n.step === undefined ? 99 : n.step;
      if (!bands[step]) { bands[step] = []; steps.push(step); }
      bands[step].push(n);
    });
    steps.sort(function (a, b) { return a - b; });
    var widest = Math.max.apply(null, steps.map(function (s) { return bands[s].length; }).concat([1]));
    var width = PAD * 2 + widest * W + (widest - 1) * GAP_X + 120, pos = {};
    steps.forEach(function (step, row) {
      var band = bands[step].sort(function (a, b) {
        return (depth[a.id] || 0) - (depth[b.id] || 0) || b.count - a.count;
      });
      var used = band.length * W + (band.length - 1) * GAP_X, x0 = (width - 120 - used) / 2;
      band.forEach(function (n, i) { pos[n.id] = {x: x0 + i * (W + GAP_X), y: PAD + row * BAND, step: step, row: row}; });
    });
    return {pos: pos, width: width, height: PAD * 2 + steps.length * BAND - (BAND - H), steps: steps};
  }

  function edgePath(a, b, self) {
    if (self) {  // a loop on one task: a small arc on its right
      var rx = a.x + W, ry = a.y + H / 2;
      return "M" + rx + "," + (ry - 10) + " C" + (rx + 40) + "," + (ry - 30) + " " + (rx + 40) + "," + (ry + 30) +
        " " + rx + "," + (ry + 10);
    }
    if (b.row > a.row) {  // forward: bottom to top
      var x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y, my = (y1 + y2) / 2;
      return "M" + x1 + "," + y1 + " C" + x1 + "," + my + " " + x2 + "," + my + " " + x2 + "," + y2;
    }
    if (b.row === a.row) {  // same step: an arc over the band
      var sx = a.x + W / 2, tx = b.x + W / 2, top = a.y - 20 - Math.min(28, Math.abs(tx - sx) / 12);
      return "M" + sx + "," + a.y + " C" + sx + "," + top + " " + tx + "," + top + " " + tx + "," + b.y;
    }
    // back to an earlier step: around the right-hand side
    var bx = Math.max(a.x, b.x) + W + 50 + (a.row - b.row) * 8;
    return "M" + (a.x + W) + "," + (a.y + H / 2) + " C" + bx + "," + (a.y + H / 2) + " " + bx + "," +
      (b.y + H / 2) + " " + (b.x + W) + "," + (b.y + H / 2);
  }

  function draw(box) {
    var data = JSON.parse(box.getAttribute("data-map") || "{}");
    var labels = JSON.parse(box.getAttribute("data-labels") || "{}");
    var canvas = box.querySelector(".map-canvas"), slider = box.querySelector("input.paths");
    var shownOut = box.querySelector(".paths-shown"), list = box.querySelector(".edge-cases");
    var nodes = data.nodes || [], edges = (data.edges || []).slice().sort(function (a, b) { return b.count - a.count; });
    if (!nodes.length) {
      canvas.innerHTML = "<p class=\"muted\">" + html(labels.empty) + "</p>";
      slider.disabled = true;
      box.setAttribute("data-ready", "true");
      return;
    }
    var names = {};
    nodes.forEach(function (n) { names[n.id] = n.name; });
    var plan = layout(nodes, edges), pos = plan.pos;
    var svg = el("svg", {viewBox: "0 0 " + plan.width + " " + plan.height, width: plan.width, height: plan.height,
                         role: "img", "class": "dfg"}, null);
    var defs = el("defs", {}, svg);
    // Arrowheads of one size, whatever the arrow's thickness.
    var marker = el("marker", {id: "dfg-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9,
                               markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse"}, defs);
    el("path", {d: "M0,0 L10,5 L0,10 z", fill: "#4a6a8f"}, marker);
    var most = edges.length ? edges[0].count : 1;
    var edgeLayer = el("g", {"class": "edges"}, svg), nodeLayer = el("g", {"class": "nodes"}, svg);
    var drawn = edges.map(function (e, rank) {
      var a = pos[e.source], b = pos[e.target];
      if (!a || !b) return null;
      var g = el("g", {"class": "edge", tabindex: "0", role: "button", "data-source": e.source,
                       "data-target": e.target, "data-rank": rank}, edgeLayer);
      var d = edgePath(a, b, e.source === e.target);
      var widthPx = 1 + 6 * Math.log(1 + e.count) / Math.log(1 + most);
      el("path", {d: d, "class": "hit", fill: "none", stroke: "transparent", "stroke-width": 14}, g);
      var line = el("path", {d: d, "class": "line", fill: "none", stroke: "#4a6a8f", "stroke-width": widthPx.toFixed(1),
                             "marker-end": "url(#dfg-arrow)"}, g);
      var title = el("title", {}, g);
      title.textContent = names[e.source] + " → " + names[e.target] + ": " + fill(labels.times, {n: e.count}) +
        " · " + e.text;
      var mid = line.getTotalLength ? line.getPointAtLength(line.getTotalLength() / 2) : {x: 0, y: 0};
      var label = el("text", {x: mid.x + 4, y: mid.y - 3, "class": "edge-label"}, g);
      label.textContent = fill(labels.times, {n: e.count}) + " · " + e.text;
      g.addEventListener("click", function () { showCases(e); });
      g.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); showCases(e); } });
      return {edge: e, g: g};
    }).filter(Boolean);
    nodes.forEach(function (n) {
      var p = pos[n.id];
      var g = el("g", {"class": "node", "data-id": n.id, transform: "translate(" + p.x + "," + p.y + ")"}, nodeLayer);
      el("rect", {width: W, height: H, rx: 6, ry: 6}, g);
      var name = el("text", {x: W / 2, y: 19, "text-anchor": "middle", "class": "node-name"}, g);
      name.textContent = n.name.length > 11 ? n.name.slice(0, 10) + "…" : n.name;
      var count = el("text", {x: W / 2, y: 37, "text-anchor": "middle", "class": "node-count"}, g);
      count.textContent = fill(labels.times, {n: n.count});
      var title = el("title", {}, g);
      title.textContent = n.name;
    });
    canvas.appendChild(svg);
    // Start where the process starts: the first task of the first step in view.
    var first = nodes.map(function (n) { return pos[n.id]; }).sort(function (a, b) { return a.row - b.row || a.x - b.x; })[0];
    canvas.scrollLeft = Math.max(0, first.x - 20);
    // Labels were measured before the SVG was in the page in some browsers: place them again.
    drawn.forEach(function (item) {
      var line = item.g.querySelector(".line"), label = item.g.querySelector(".edge-label");
      var mid = line.getPointAtLength(line.getTotalLength() / 2);
      label.setAttribute("x", mid.x + 4);
      label.setAttribute("y", mid.y - 3);
    });

    function apply() {
      var keep = Math.max(1, Math.ceil(drawn.length * slider.value / 100)), used = {};
      drawn.forEach(function (item, rank) {
        var visible = rank < keep;
        item.g.style.display = visible ? "" : "none";
        if (visible) { used[item.edge.source] = true; used[item.edge.target] = true; }
      });
      nodeLayer.querySelectorAll(".node").forEach(function (g) {
        g.classList.toggle("faded", !used[g.getAttribute("data-id")]);
      });
      shownOut.textContent = fill(labels.shown, {shown: Math.min(keep, drawn.length), total: drawn.length});
    }

    function showCases(e) {
      drawn.forEach(function (item) { item.g.classList.toggle("chosen", item.edge === e); });
      list.innerHTML = "<p class=\"muted\">" + html(labels.loading) + "</p>";
      var url = box.getAttribute("data-cases-url") + "?source=" + encodeURIComponent(e.source) + "&target=" +
        encodeURIComponent(e.target);
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (body) {
          var head = "<h3>" + html(fill(labels.cases, {source: names[e.source], target: names[e.target]})) + "</h3>";
          if (!body.cases.length) { list.innerHTML = head + "<p class=\"muted\">" + html(labels.none) + "</p>"; return; }
          var rows = body.cases.map(function (c) {
            return "<tr><td><a href=\"" + html(c.url) + "\">" + html(c.title) + "</a></td><td>" + html(c.status) +
              "</td><td class=\"num\">" + html(String(c.times)) + "</td><td class=\"num\">" + html(c.gap) + "</td></tr>";
          }).join("");
          list.innerHTML = head + "<div class=\"rows-wrap\"><table class=\"data\"><thead><tr><th scope=\"col\">" +
            html(labels.project) + "</th><th scope=\"col\">" + html(labels.status) + "</th><th class=\"num\" scope=\"col\">" +
            html(labels.times_head) + "</th><th class=\"num\" scope=\"col\">" + html(labels.gap) +
            "</th></tr></thead><tbody>" + rows + "</tbody></table></div>";
        })
        .catch(function () { list.innerHTML = "<p class=\"error\">" + html(labels.failed) + "</p>"; });
    }

    slider.addEventListener("input", apply);
    apply();
    box.setAttribute("data-ready", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".processmap[data-map]").forEach(draw);
  });
})();
