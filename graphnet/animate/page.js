"use strict";
// The animation's page: its data is the JSON in <script id="data"> (graphnet/animate/page.py writes it).
// Each pass ("phase") has one picture laid out once (an SVG) and, per frame, the cells that differ from it.

const DATA = JSON.parse(document.getElementById("data").textContent);
const PHASES = DATA.phases, ORDER = DATA.order, NODES = DATA.nodes, OPS = DATA.ops;
const SVG_NS = "http://www.w3.org/2000/svg", XLINK_NS = "http://www.w3.org/1999/xlink";
const $ = id => document.getElementById(id);
const view = $("view"), panel = $("panel"), slider = $("frame");

// Each frame's cells, rebuilt once from its layout's and the changes of the frames before it in that layout.
for (const name of ORDER) {
  const last = {};
  for (const frame of PHASES[name].frames) {
    const layout = PHASES[name].layouts[frame.layout];
    const shown = Object.assign({}, last[frame.layout] || Object.fromEntries(layout.cells.map(c => [c[0], c])));
    for (const value of frame.cells) shown[value[0]] = value;
    frame.shown = last[frame.layout] = shown;
  }
}

const state = { phase: ORDER[0], index: 0, playing: true, timer: null, pinned: null, follow: false };
let bound = null;      // the layout whose SVG is in the view
let svg = null;        // that SVG element
let cells = {};        // cell id -> {polygon, text, link, title, shown}: the SVG's elements of each cell
let nodeElements = {}; // node key -> its <g class="node">
let clusters = {};     // cluster name (cluster_t3) -> its <g class="cluster">
let camera = null;     // the view: its centre (x, y) in the SVG's units and its scale (screen px per unit)

// -- the picture ------------------------------------------------------------------------------------------------
function bind(layout) {
  // Put a layout's SVG in the view and find its cells, nodes and clusters.
  view.innerHTML = layout.svg;
  svg = view.querySelector("svg");
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  const ids = {};
  for (const g of svg.querySelectorAll("g[id^='a_']")) ids[g.id.slice(2)] = g;
  cells = {};
  for (const base of layout.cells) {
    const g = ids[base[0]];
    if (!g) throw new Error("cell " + base[0] + " is not in the picture");
    const polygon = g.querySelector("polygon"), link = g.querySelector("a");
    const title = document.createElementNS(SVG_NS, "title");  // what a browser shows on hover
    link.insertBefore(title, link.firstChild);
    const text = g.querySelector("text");
    if (text) {  // centred in its cell, whatever the width of the number it shows
      const box = polygon.getBBox();
      text.setAttribute("text-anchor", "middle");
      text.setAttribute("x", box.x + box.width / 2);
    }
    cells[base[0]] = { polygon, text, link, title, shown: null };
    setCell(cells[base[0]], base);
  }
  nodeElements = {};
  for (const g of svg.querySelectorAll("g.node")) nodeElements[g.querySelector("title").textContent] = g;
  clusters = {};
  for (const g of svg.querySelectorAll("g.cluster")) clusters[g.querySelector("title").textContent] = g;
  bound = layout;
  camera = null;
}

function setCell(cell, value) {
  // value: [id, colour, ink, hover text, text]
  if (cell.shown === value) return;
  cell.polygon.setAttribute("fill", value[1]);
  cell.link.setAttributeNS(XLINK_NS, "title", value[3]);
  cell.title.textContent = value[3];
  if (cell.text) {
    cell.text.textContent = value[4];
    cell.text.setAttribute("fill", value[2]);
  } else if (value[4]) {
    throw new Error("cell " + value[0] + " has no text in its layout");
  }
  cell.shown = value;
}

function frameOf(phase, i) { return PHASES[phase].frames[i]; }

function draw(i) {
  // Show frame i of the current pass: its layout, then each cell as the frame has it.
  const frames = PHASES[state.phase].frames;
  i = Math.max(0, Math.min(i, frames.length - 1));
  const frame = frames[i], layout = PHASES[state.phase].layouts[frame.layout];
  const fresh = bound !== layout;
  if (fresh) bind(layout);
  for (const id in cells) setCell(cells[id], frame.shown[id]);
  state.index = i;
  slider.max = frames.length - 1;
  slider.value = i;
  $("caption").textContent = frame.caption;
  $("position").textContent = (i + 1) + " / " + frames.length;
  document.body.dataset.phase = state.phase;
  document.body.dataset.frame = i;
  if (fresh && !camera) fitAll();
  if (state.follow) fitStep();
  if (state.pinned) showPanel(state.pinned);
}

function show(phase) {
  state.phase = phase;
  for (const input of document.querySelectorAll("#phases input")) input.checked = input.value === phase;
}

// -- the view: zoom and pan -------------------------------------------------------------------------------------
function size() { return { width: view.clientWidth || 1, height: view.clientHeight || 1 }; }

function apply() {
  // The viewBox that shows the camera's centre at its scale, the whole of the view's size.
  const { width, height } = size(), w = width / camera.scale, h = height / camera.scale;
  svg.setAttribute("viewBox", `${camera.x - w / 2} ${camera.y - h / 2} ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
}

function whole() {
  const box = svg.viewBox.baseVal && bound.box ? bound.box : null;
  if (box) return box;
  const [x, y, w, h] = svg.getAttribute("viewBox").split(/[ ,]+/).map(Number);
  bound.box = { x, y, width: w, height: h };
  return bound.box;
}

function fit(box, margin = 0.04) {
  // Show all of box (in the SVG's units), as large as the view allows.
  const { width, height } = size();
  const scale = Math.min(width / (box.width * (1 + 2 * margin)), height / (box.height * (1 + 2 * margin)));
  camera = { x: box.x + box.width / 2, y: box.y + box.height / 2, scale };
  apply();
}

function fitAll() { fit(whole(), 0.01); }

function userBox(element) {
  // An element's box in the SVG's units, from where it is on the screen.
  const r = element.getBoundingClientRect(), m = svg.getScreenCTM().inverse();
  const a = new DOMPoint(r.left, r.top).matrixTransform(m), b = new DOMPoint(r.right, r.bottom).matrixTransform(m);
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(b.x - a.x), height: Math.abs(b.y - a.y) };
}

function union(boxes) {
  const x = Math.min(...boxes.map(b => b.x)), y = Math.min(...boxes.map(b => b.y));
  const right = Math.max(...boxes.map(b => b.x + b.width)), bottom = Math.max(...boxes.map(b => b.y + b.height));
  return { x, y, width: right - x, height: bottom - y };
}

function stepBox(frame) {
  // What a frame is about: its step's box, or else the nodes it computes.
  const cluster = frame.step !== null && clusters["cluster_t" + frame.step];
  if (cluster) return userBox(cluster);
  const elements = frame.keys.map(k => nodeElements[k]).filter(Boolean);
  return elements.length ? union(elements.map(userBox)) : whole();
}

const READABLE = 13 / 11;  // screen px per unit at which the picture's numbers (11 pt) are 13 px high

function fitStep() {
  // The frame's step as large as the view allows; a step too big to read so, the part the frame computes,
  // readable but no closer than twice that (a small part is not blown up to fill the view).
  const frame = frameOf(state.phase, state.index), { width, height } = size();
  const scaleFor = box => Math.min(width / (box.width * 1.08), height / (box.height * 1.08));
  let box = stepBox(frame), scale = scaleFor(box);
  if (scale < READABLE) {
    const elements = frame.keys.map(k => nodeElements[k]).filter(Boolean);
    if (elements.length) box = union(elements.map(userBox));
    scale = Math.min(Math.max(scaleFor(box), READABLE), 2 * READABLE);
  }
  camera = { x: box.x + box.width / 2, y: box.y + box.height / 2, scale };
  apply();
}

function zoom(factor, clientX, clientY) {
  // Zoom by factor about a point of the screen (by default the view's centre), which stays where it is.
  const r = view.getBoundingClientRect();
  const px = clientX === undefined ? r.width / 2 : clientX - r.left, py = clientY === undefined ? r.height / 2 : clientY - r.top;
  const x = camera.x + (px - r.width / 2) / camera.scale, y = camera.y + (py - r.height / 2) / camera.scale;
  const fitted = Math.min(r.width / whole().width, r.height / whole().height);
  const scale = Math.max(fitted / 4, Math.min(camera.scale * factor, 60));
  camera = { x: x - (px - r.width / 2) / scale, y: y - (py - r.height / 2) / scale, scale };
  apply();
}

function pan(dx, dy) {
  // Move the picture by dx, dy screen pixels.
  camera.x -= dx / camera.scale;
  camera.y -= dy / camera.scale;
  apply();
}

function stopFollowing() {
  state.follow = false;
  $("follow").checked = false;
}

view.addEventListener("wheel", e => {
  e.preventDefault();
  stopFollowing();
  if (e.shiftKey && !e.ctrlKey) { pan(-e.deltaY, 0); return; }
  // A pinch on a touchpad comes as a wheel event with ctrlKey; a mouse wheel's steps are larger.
  zoom(Math.exp(-e.deltaY * (e.ctrlKey ? 0.01 : 0.002)), e.clientX, e.clientY);
}, { passive: false });

const pointers = new Map();
let dragged = 0, pinch = null;
view.addEventListener("pointerdown", e => {
  pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  view.setPointerCapture(e.pointerId);
  dragged = 0;
  if (pointers.size === 2) {
    const [a, b] = [...pointers.values()];
    pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) };
  }
});
view.addEventListener("pointermove", e => {
  const last = pointers.get(e.pointerId);
  if (!last) return;
  const now = { x: e.clientX, y: e.clientY };
  pointers.set(e.pointerId, now);
  if (pointers.size === 2 && pinch) {  // two fingers: zoom about their middle
    const [a, b] = [...pointers.values()], distance = Math.hypot(a.x - b.x, a.y - b.y);
    if (pinch.distance > 0) zoom(distance / pinch.distance, (a.x + b.x) / 2, (a.y + b.y) / 2);
    pinch.distance = distance;
    dragged += 10;
    stopFollowing();
  } else if (pointers.size === 1) {
    dragged += Math.abs(now.x - last.x) + Math.abs(now.y - last.y);
    if (dragged > 4) {
      view.classList.add("dragging");
      stopFollowing();
      pan(now.x - last.x, now.y - last.y);
    }
  }
});
function release(e) {
  pointers.delete(e.pointerId);
  if (pointers.size < 2) pinch = null;
  if (!pointers.size) view.classList.remove("dragging");
}
view.addEventListener("pointerup", release);
view.addEventListener("pointercancel", release);

view.addEventListener("click", e => {
  // Cells link to "#" only so that Graphviz keeps their hover text: a click goes nowhere, it pins a node.
  if (e.target.closest("a")) e.preventDefault();
  if (dragged > 4) return;
  // The view captures the pointer while it is down (to pan), so the click is the view's: what is under it?
  const under = document.elementFromPoint(e.clientX, e.clientY), node = under && under.closest("g.node");
  if (node) pin(node.querySelector("title").textContent);
});

new ResizeObserver(() => { if (camera) apply(); }).observe(view);

// -- the panel: a node's name, shape, numbers, formula and inputs ----------------------------------------------
function pin(key) {
  if (key && !(key in NODES)) return;  // a step's header, the legend: nothing to show
  if (state.pinned && nodeElements[state.pinned]) nodeElements[state.pinned].classList.remove("pinned");
  state.pinned = key;
  document.body.dataset.pinned = key || "";
  if (!key) { panel.hidden = true; return; }
  if (nodeElements[key]) nodeElements[key].classList.add("pinned");
  showPanel(key);
  if (state.follow) fitStep();  // the view is narrower now
}

function element(tag, attributes = {}, ...children) {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  for (const child of children) made.append(child);
  return made;
}

function keyButtons(keys) {
  const out = element("div", { class: "keys" });
  if (!keys.length) out.append("nothing");
  for (const key of keys) {
    const button = element("button", { type: "button" }, key);
    button.addEventListener("click", () => pin(key));
    out.append(button);
  }
  return out;
}

function numbersNow(key) {
  // A node's numbers as the current frame shows them, or null.
  const versions = PHASES[state.phase].numbers[key];
  if (!versions) return null;
  let shown = null;
  for (const [from, numbers] of versions) if (from <= state.index) shown = numbers;
  return shown;
}

function cellColour(key, index) {
  const cell = cells[key + ":" + index];
  return cell ? cell.shown : null;
}

function numberCell(text, colour) {
  const td = element("td", {}, text === "" ? "…" : text);
  if (text === "") td.className = "pending";
  if (colour) { td.style.background = colour[1]; td.style.color = colour[2]; }
  return td;
}

function numbersTable(key, numbers) {
  // Up to eight numbers to a row (as many as the panel's width takes), each under its index: a vector in rows,
  // a matrix row by row in blocks of columns; each number on the colour of its cell in the picture.
  const table = element("table", { class: "numbers" });
  if (!Array.isArray(numbers)) {
    table.append(element("tr", {}, numberCell(numbers, cellColour(key, "value"))));
    return table;
  }
  const matrix = Array.isArray(numbers[0]), columns = matrix ? numbers[0].length : numbers.length;
  const fit = Math.max(4, Math.min(8, Math.floor((panel.clientWidth - 60) / 70)));
  for (let start = 0; start < columns; start += fit) {
    const stop = Math.min(start + fit, columns), head = element("tr", {}, element("th"));
    for (let j = start; j < stop; j++) head.append(element("th", {}, matrix ? String(j) : "[" + j + "]"));
    table.append(head);
    for (const [i, row] of (matrix ? numbers : [numbers]).entries()) {
      const tr = element("tr", {}, element("th", {}, matrix ? String(i) : ""));
      for (let j = start; j < stop; j++) tr.append(numberCell(row[j], cellColour(key, matrix ? i + "," + j : j)));
      table.append(tr);
    }
  }
  return table;
}

function showPanel(key) {
  panel.hidden = false;  // shown first: the table's rows fit its width
  const node = NODES[key] || { key, inputs: [], readers: [] };
  const frame = frameOf(state.phase, state.index), reverse = state.phase === "reverse";
  const close = element("button", { type: "button", title: "close (Esc)" }, "×");
  close.addEventListener("click", () => pin(null));
  const parts = [element("h2", {}, element("span", {}, key), close)];
  const what = [node.op, node.kind !== node.op ? node.kind : "", node.t === null || node.t === undefined ? "" : "step " + node.t, node.shape]
    .filter(Boolean).join(" · ");
  if (what) parts.push(element("div", { class: "what" }, what));
  const op = OPS[node.op];
  if (op && op.description) parts.push(element("div", { class: "what" }, op.description));
  if (node.forward) parts.push(element("h3", {}, "forward"), element("div", { class: "formula" }, node.forward));
  if (reverse && node.backward) {
    parts.push(element("h3", {}, "backward"), element("div", { class: "formula" }, node.backward));
  }
  const shows = node.shows || key, numbers = numbersNow(shows);
  const heading = state.phase === "memory" ? "% of its change due to each input step"
    : (reverse ? "gradient of the loss" : "value") + (shows !== key ? " of " + shows : "")
      + (node.shape && node.shape.startsWith("B") ? " (the first example)" : "");
  parts.push(element("h3", {}, heading));
  if (frame.notes && frame.notes[key]) parts.push(element("div", { class: "note" }, frame.notes[key]));
  parts.push(numbers === null ? element("div", { class: "note" }, "not computed yet, or not shown") : numbersTable(shows, numbers));
  if (node.inputs.length || node.readers.length) {
    parts.push(element("h3", {}, "computed from"), keyButtons(node.inputs));
    parts.push(element("h3", {}, "read by"), keyButtons(node.readers));
  }
  if (node.folds && node.folds.length) parts.push(element("h3", {}, "folded in it"), keyButtons(node.folds));
  if (op && (op.forward || op.backward)) {
    const code = element("pre", {}, (op.forward || "") + (reverse ? "\n" + (op.backward || "") : ""));
    parts.push(element("details", {}, element("summary", {}, "the code the engine runs"), code));
  }
  panel.replaceChildren(...parts);
}

// -- playing ----------------------------------------------------------------------------------------------------
function next() {
  // On to the next frame, the next pass after a pass's last, and round again.
  let i = state.index + 1;
  if (i >= PHASES[state.phase].frames.length) {
    show(ORDER[(ORDER.indexOf(state.phase) + 1) % ORDER.length]);
    i = 0;
  }
  draw(i);
}

function schedule() {
  clearTimeout(state.timer);
  if (state.playing) state.timer = setTimeout(() => { next(); schedule(); }, frameOf(state.phase, state.index).seconds * 1000);
}

function setPlaying(on) {
  state.playing = on;
  $("play").textContent = on ? "pause" : "play";
  schedule();
}

function step(by) { setPlaying(false); draw(state.index + by); }

const phases = $("phases");
for (const name of ORDER) {
  const input = element("input", { type: "radio", name: "phase", value: name });
  input.addEventListener("change", () => { show(name); draw(0); schedule(); });
  phases.append(element("label", {}, input, " " + PHASES[name].name));
}
if (ORDER.length < 2) phases.hidden = true;
$("play").addEventListener("click", () => setPlaying(!state.playing));
$("previous").addEventListener("click", () => step(-1));
$("next").addEventListener("click", () => step(1));
slider.addEventListener("input", () => { setPlaying(false); draw(+slider.value); });
$("follow").addEventListener("change", e => { state.follow = e.target.checked; if (state.follow) fitStep(); });
$("all").addEventListener("click", () => { stopFollowing(); fitAll(); });
$("zoom-in").addEventListener("click", () => { stopFollowing(); zoom(1.4); });
$("zoom-out").addEventListener("click", () => { stopFollowing(); zoom(1 / 1.4); });

document.addEventListener("keydown", e => {
  if (e.target.matches("input[type=range]") && e.key.startsWith("Arrow")) return;  // the slider's own
  const panBy = 0.15 * Math.min(size().width, size().height);
  const keys = {
    " ": () => setPlaying(!state.playing), ",": () => step(-1), ".": () => step(1),
    Home: () => step(-state.index), End: () => step(1e9),
    "+": () => zoom(1.4), "=": () => zoom(1.4), "-": () => zoom(1 / 1.4), "0": fitAll,
    ArrowLeft: () => pan(panBy, 0), ArrowRight: () => pan(-panBy, 0), ArrowUp: () => pan(0, panBy), ArrowDown: () => pan(0, -panBy),
    f: () => { state.follow = !state.follow; $("follow").checked = state.follow; if (state.follow) fitStep(); },
    Escape: () => pin(null),
  };
  const act = keys[e.key];
  if (!act || e.ctrlKey || e.metaKey || e.altKey) return;
  e.preventDefault();
  if (["+", "=", "-", "0"].includes(e.key) || e.key.startsWith("Arrow")) stopFollowing();
  act();
});

function fromHash() {
  // A view given in the address: #reverse&frame=5&pin=synapse_h&follow (frame as the page counts, from 1).
  const words = decodeURIComponent(location.hash.slice(1)).split("&").filter(Boolean);
  if (!words.length || words[0] === "check") return false;
  const asked = {};
  for (const word of words) {
    const [name, value] = word.split("=");
    asked[name] = value === undefined ? true : value;
  }
  show(ORDER.find(name => name in asked) || ORDER[0]);
  state.follow = "follow" in asked;
  $("follow").checked = state.follow;
  state.playing = false;
  $("play").textContent = "play";
  draw(asked.frame ? +asked.frame - 1 : 0);
  if (asked.pin) pin(asked.pin);
  if (state.follow) fitStep();
  return true;
}

show(ORDER[0]);
draw(0);
if (fromHash()) {
  // paused where the address says
} else if (location.hash === "#check") {
  // Draw every frame of every pass once, then say so on the page (what a test reads back).
  let drawn = 0;
  for (const name of ORDER) {
    show(name);
    for (let i = 0; i < PHASES[name].frames.length; i++) { draw(i); drawn++; }
  }
  show(ORDER[0]);
  draw(0);
  document.body.dataset.drawn = drawn;
  setPlaying(false);
} else {
  schedule();
}
