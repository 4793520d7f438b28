// The review page: one person checks sampled detections and counts piles in sampled cells.
// Decisions live in localStorage under the run key + design hash (a closed tab loses nothing)
// and are exported as review.json with the design, so the estimate can be recomputed.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("review-data").textContent);
  var design = data.design;
  var KEY = "debrismap-review:" + design.run_key + ":" + data.design_sha256;
  var SVG = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
  var detections = design.detections.sample;
  var cells = design.cells.sample;
  var storageOk = true;
  var state = load();

  function blank() {
    return { detections: {}, cells: {}, position: { detections: 0, cells: 0 }, tab: "detections",
             showDetections: true };
  }
  function load() {
    try {
      var text = window.localStorage.getItem(KEY);
      if (text) { return JSON.parse(text); }
    } catch (err) { storageOk = false; }
    return blank();
  }
  function save() {
    try { window.localStorage.setItem(KEY, JSON.stringify(state)); } catch (err) { storageOk = false; }
    document.getElementById("storage-warning").hidden = storageOk;
  }

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  // Detections at 4x their pixels (enough to judge a pile, with context), cells at 3x,
  // within what a laptop screen holds.
  function frame(svg, img, image, zoom, widest) {
    img.src = image.src;
    img.style.width = Math.max(320, Math.min(zoom * image.width, widest)) + "px";
    svg.setAttribute("viewBox", "0 0 " + image.width + " " + image.height);
    svg.setAttribute("preserveAspectRatio", "none");
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
  }
  function rect(box, colour, width) {
    return el("rect", { x: box[0], y: box[1], width: box[2] - box[0], height: box[3] - box[1],
                        fill: "none", stroke: colour, "stroke-width": width, "vector-effect": "non-scaling-stroke" });
  }

  // --- detections ---
  function showDetection() {
    var i = state.position.detections;
    var unit = detections[i];
    var svg = document.getElementById("detection-svg");
    if (!unit) { document.getElementById("detection-label").textContent = "no detection sampled"; return; }
    var image = data.images.detections[unit.id];
    frame(svg, document.getElementById("detection-image"), image, 4, 640);
    svg.appendChild(rect(image.box, "#ffd400", 2));
    document.getElementById("detection-label").textContent =
      "detection " + (i + 1) + " of " + detections.length + " (score " + unit.score.toFixed(2) + ")";
    document.getElementById("detection-decision").textContent = state.detections[unit.id] || "none";
  }
  function decideDetection(value) {
    var unit = detections[state.position.detections];
    if (!unit) { return; }
    state.detections[unit.id] = value;
    moveDetection(1);
  }
  function moveDetection(step) {
    var i = state.position.detections + step;
    state.position.detections = Math.max(0, Math.min(detections.length - 1, i));
  }

  // --- cells ---
  function cellDecision(unit) {
    if (!state.cells[unit.id]) { state.cells[unit.id] = { status: "open", piles: [] }; }
    return state.cells[unit.id];
  }
  function showCell() {
    var i = state.position.cells;
    var unit = cells[i];
    var svg = document.getElementById("cell-svg");
    if (!unit) { document.getElementById("cell-label").textContent = "no cell sampled"; return; }
    var image = data.images.cells[unit.id];
    var decision = state.cells[unit.id] || { status: "open", piles: [] };
    frame(svg, document.getElementById("cell-image"), image, 3, 720);
    svg.appendChild(el("polygon", { points: image.outline.map(function (p) { return p.join(","); }).join(" "),
                                    fill: "none", stroke: "#ff2d95", "stroke-width": 2,
                                    "vector-effect": "non-scaling-stroke" }));
    if (state.showDetections) {
      image.boxes.forEach(function (b) { svg.appendChild(rect(b, "#00e5ff", 1)); });
    }
    var r = Math.max(image.width, image.height) / 90;
    decision.piles.forEach(function (p) {
      svg.appendChild(el("circle", { cx: p.px, cy: p.py, r: r, fill: "none", stroke: "#ffd400",
                                     "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
    });
    document.getElementById("cell-label").textContent = "cell " + (i + 1) + " of " + cells.length;
    document.getElementById("cell-piles").textContent = decision.piles.length;
    document.getElementById("cell-status").textContent =
      { open: "not done", counted: "done", impossible: "impossible to judge" }[decision.status];
  }
  function clickCell(event) {
    var unit = cells[state.position.cells];
    if (!unit) { return; }
    var image = data.images.cells[unit.id];
    var box = event.currentTarget.getBoundingClientRect();
    var px = (event.clientX - box.left) / box.width * image.width;
    var py = (event.clientY - box.top) / box.height * image.height;
    var decision = cellDecision(unit);
    var near = Math.max(image.width, image.height) / 60;
    var hit = decision.piles.findIndex(function (p) { return Math.hypot(p.px - px, p.py - py) <= near; });
    if (hit >= 0) {
      decision.piles.splice(hit, 1);
    } else {
      var t = image.transform; // world = (a*px + b*py + c, d*px + e*py + f), run CRS
      decision.piles.push({ px: round(px), py: round(py),
                            x: t[0] * px + t[1] * py + t[2], y: t[3] * px + t[4] * py + t[5] });
    }
    if (decision.status === "impossible") { decision.status = "open"; }
    render();
  }
  function round(v) { return Math.round(v * 100) / 100; }
  function cellKey(key) {
    var unit = cells[state.position.cells];
    if (!unit) { return; }
    var decision = cellDecision(unit);
    if (key === "d") { decision.status = "counted"; moveCell(1); }
    if (key === "x") { decision.status = "impossible"; decision.piles = []; moveCell(1); }
    if (key === "z") { decision.piles.pop(); }
    if (key === "h") { state.showDetections = !state.showDetections; }
  }
  function moveCell(step) {
    state.position.cells = Math.max(0, Math.min(cells.length - 1, state.position.cells + step));
  }

  // --- export ---
  function exported() {
    var out = { format: "debrismap-review", version: 1, run_key: design.run_key,
                design_sha256: data.design_sha256, design: design, exported: new Date().toISOString(),
                decisions: { detections: {}, cells: {} } };
    detections.forEach(function (u) {
      if (state.detections[u.id]) { out.decisions.detections[u.id] = state.detections[u.id]; }
    });
    cells.forEach(function (u) {
      var d = state.cells[u.id];
      if (d && d.status !== "open") {
        out.decisions.cells[u.id] = { status: d.status, piles: d.status === "counted" ? d.piles : [] };
      }
    });
    return JSON.stringify(out, null, 1);
  }
  function download() {
    var text = exported();
    document.getElementById("export").value = text;
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    a.download = "review.json";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function progress() {
    var checked = detections.filter(function (u) { return state.detections[u.id]; }).length;
    var done = cells.filter(function (u) { var d = state.cells[u.id]; return d && d.status !== "open"; }).length;
    document.getElementById("progress-detections").textContent = "(" + checked + "/" + detections.length + ")";
    document.getElementById("progress-cells").textContent = "(" + done + "/" + cells.length + ")";
  }
  function render() {
    ["detections", "cells", "export"].forEach(function (name) {
      document.getElementById("pane-" + name).classList.toggle("active", state.tab === name);
      document.getElementById("tab-" + name).classList.toggle("active", state.tab === name);
    });
    if (state.tab === "detections") { showDetection(); }
    if (state.tab === "cells") { showCell(); }
    if (state.tab === "export") { document.getElementById("export").value = exported(); }
    progress();
    save();
  }
  function onKey(key) {
    if (key === "1") { state.tab = "detections"; }
    else if (key === "2") { state.tab = "cells"; }
    else if (key === "3") { state.tab = "export"; }
    else if (state.tab === "detections") {
      if (key === "y") { decideDetection("yes"); }
      if (key === "n") { decideDetection("no"); }
      if (key === "u") { decideDetection("unsure"); }
      if (key === "ArrowRight") { moveDetection(1); }
      if (key === "ArrowLeft") { moveDetection(-1); }
    } else if (state.tab === "cells") {
      if (key === "ArrowRight") { moveCell(1); }
      else if (key === "ArrowLeft") { moveCell(-1); }
      else { cellKey(key); }
    }
    render();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    onKey(event.key);
  });
  document.querySelectorAll("button[data-key]").forEach(function (b) {
    b.addEventListener("click", function () { onKey(b.getAttribute("data-key")); });
  });
  document.querySelectorAll("nav button").forEach(function (b) {
    b.addEventListener("click", function () { state.tab = b.getAttribute("data-tab"); render(); });
  });
  document.getElementById("cell-svg").addEventListener("click", clickCell);
  document.getElementById("export-button").addEventListener("click", download);
  render();
  document.body.setAttribute("data-ready", "ok");
}());
