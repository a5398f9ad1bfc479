// The playground page: controls that post settings to the server, and views drawn from the frames it
// streams (server-sent events). The page computes nothing about the network: every number comes from
// the engine in the server.
import { CLASS_COLORS, histogram, layerColor, lineChart, prepare, rgb } from "/static/charts.js";

const $ = (id) => document.getElementById(id);
const MAX_POINTS = 2000;        // per chart series; beyond it every other point is dropped
const RATE_WINDOW_MS = 3000;    // the update rate is measured over this window
const SIMPLE_SETTINGS = ["dataset", "noise", "points", "test", "seed", "init", "bias", "slope", "dropout", "l2",
  "opt", "lr", "batch", "speed"];
const NEGATIVE = [8, 119, 189], POSITIVE = [245, 147, 34];

const state = {
  meta: null, settings: null, session: null, source: null, fatal: false, run: null, data: null, frame: null,
  history: null, frameTimes: [], playing: false, renderQueued: false, csvLoaded: false, presetClaim: null,
};

// ---- server ----------------------------------------------------------------------------------------
async function post(path, body, contentType = "application/json") {
  if (!state.session) throw new Error("not connected to the playground server yet");
  const response = await fetch(`/api/session/${state.session}/${path}`, {
    method: "POST", headers: { "Content-Type": contentType },
    body: contentType === "application/json" ? JSON.stringify(body) : body,
  });
  let payload = {};
  try { payload = await response.json(); } catch (err) { payload = {}; }
  if (!response.ok) {
    const error = new Error(payload.error || `the server answered ${response.status}`);
    error.errors = payload.errors;
    throw error;
  }
  return payload;
}

function connect() {
  state.fatal = false;
  const source = new EventSource("/api/stream" + location.search);
  state.source = source;
  const on = (name, handler) => source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  on("hello", (m) => {
    state.session = m.session;
    showStatus(m.warnings.length ? "Not taken from the link: " + m.warnings.join("; ") : "");
  });
  on("settings", applySettings);
  on("data", (m) => { state.data = m; queueRender(); });
  on("frame", onFrame);
  on("state", (m) => setPlaying(m.playing));
  on("problem", (m) => { showStatus(m.message, true); setPlaying(false); });
  on("fatal", (m) => { state.fatal = true; showStatus(m.message, true); source.close(); });
  source.onerror = () => {
    source.close();
    state.session = null;
    if (state.fatal) return;
    showStatus("Lost the connection to the playground server; reconnecting (the run starts again) ...", true);
    setTimeout(connect, 1500);
  };
}

// ---- controls ----------------------------------------------------------------------------------------
function fillSelect(select, values, labels = {}) {
  select.replaceChildren(...values.map((v) => {
    const option = document.createElement("option");
    option.value = String(v);
    option.textContent = labels[v] || String(v);
    return option;
  }));
}

function buildControls() {
  const meta = state.meta;
  fillSelect($("dataset"), meta.datasets, { csv: "your CSV" });
  fillSelect($("init"), meta.initializers, { auto: "auto (He / Glorot)" });
  fillSelect($("opt"), meta.optimizers, { sgd_momentum: "sgd + momentum" });
  fillSelect($("speed"), meta.speeds);
  for (const [name, preset] of Object.entries(meta.presets)) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = preset.title;
    $("preset").append(option);
  }
  for (const name of SIMPLE_SETTINGS) {
    const element = $(name);
    element.title = meta.fields[name].label + ": " + meta.fields[name].allowed;
    element.addEventListener("change", () => changeSettings({ [name]: element.value }));
  }
  $("play").onclick = () => control("play");
  $("pause").onclick = () => control("pause");
  $("step").onclick = () => control("step");
  $("reset").onclick = () => control("reset");
  $("add-layer").onclick = () => changeLayers((layers, acts) => {
    if (layers.length < meta.max_layers) { layers.push(layers[layers.length - 1]); acts.push(acts[acts.length - 1]); }
  });
  $("remove-layer").onclick = () => changeLayers((layers, acts) => {
    if (layers.length > 1) { layers.pop(); acts.pop(); }
  });
  $("preset").addEventListener("change", () => {
    const preset = meta.presets[$("preset").value];
    if (!preset) return;
    changeSettings(preset.settings, preset.claim);
  });
  $("csv-file").addEventListener("change", uploadCsv);
  $("export").onclick = () => { $("export-menu").hidden = !$("export-menu").hidden; };
  $("export-json").onclick = () => exportFile("export.json", "playground_run.json");
  $("export-script").onclick = () => exportFile("export.py", "playground_run.py");
  $("export-png").onclick = exportPng;
  document.addEventListener("keydown", (event) => {
    if (event.code !== "Space" || ["INPUT", "SELECT", "BUTTON"].includes(event.target.tagName)) return;
    event.preventDefault();
    control(state.playing ? "pause" : "play");
  });
  window.addEventListener("pagehide", () => {
    if (state.session) navigator.sendBeacon(`/api/session/${state.session}/close`);
  });
}

async function control(action) {
  try {
    const reply = await post("control", { action });
    setPlaying(reply.playing);
  } catch (err) {
    showStatus(err.message, true);
  }
}

async function changeSettings(changes, claim = null) {
  $("settings-error").hidden = true;
  $("data-error").hidden = true;
  try {
    await post("settings", changes);
    showClaim(claim);
  } catch (err) {
    const target = "dataset" in changes && Object.keys(changes).length === 1 ? $("data-error") : $("settings-error");
    target.textContent = err.errors ? err.errors.join("; ") : err.message;
    target.hidden = false;
    if (state.settings) applySettings({ settings: state.settings, query: location.search.slice(1) });
  }
}

function changeLayers(edit) {
  const layers = [...state.settings.layers], acts = [...state.settings.act];
  edit(layers, acts);
  changeSettings({ layers: layers.join(","), act: acts.join(",") });
}

function showClaim(claim) {
  $("claim").textContent = claim || "";
  $("claim").hidden = !claim;
  if (!claim) $("preset").value = "";
}

function showStatus(message, bad = false) {
  $("status").textContent = message || "";
  $("status").hidden = !message;
  $("status").classList.toggle("bad", bad);
}

function setPlaying(playing) {
  state.playing = playing;
  $("play").disabled = playing;
  $("pause").disabled = !playing;
  if (!playing) state.frameTimes = [];
}

async function uploadCsv() {
  const file = $("csv-file").files[0];
  $("data-error").hidden = true;
  if (!file) return;
  if (file.size > state.meta.max_csv_bytes) {
    showDataError(`CSV not loaded: the file is ${file.size.toLocaleString()} bytes; the playground takes up to ` +
      `${state.meta.max_csv_bytes.toLocaleString()}`);
    return;
  }
  try {
    const summary = await post("csv", await file.arrayBuffer(), "text/csv");
    state.csvLoaded = true;
    $("data-info").textContent = `${file.name}: ${summary.rows.toLocaleString()} rows, classes ` +
      `${summary.classes.join(", ")} (features standardized)`;
  } catch (err) {
    showDataError(err.message);
  } finally {
    $("csv-file").value = "";
  }
}

function showDataError(message) {
  $("data-error").textContent = message;
  $("data-error").hidden = false;
}

function exportFile(path, name) {
  $("export-menu").hidden = true;
  if (!state.session) return;
  const link = document.createElement("a");
  link.href = `/api/session/${state.session}/${path}`;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

// ---- settings from the server ---------------------------------------------------------------------------
function applySettings({ settings, query }) {
  const layoutChanged = !state.settings || state.settings.layers.join() !== settings.layers.join() ||
    state.settings.act.join() !== settings.act.join();
  state.settings = settings;
  for (const name of SIMPLE_SETTINGS) $(name).value = String(settings[name]);
  $("dataset").querySelector('option[value="csv"]').disabled = !state.csvLoaded && settings.dataset !== "csv";
  if (settings.dataset === "csv") state.csvLoaded = true;
  $("depth").textContent = settings.layers.length;
  if (layoutChanged) buildLayers();
  history.replaceState(null, "", "?" + query);
}

function buildLayers() {
  const { layers, act } = state.settings;
  const grid = $("neuron-grid"), hists = $("histograms");
  grid.replaceChildren();
  hists.replaceChildren();
  layers.forEach((units, index) => {
    const k = index + 1;
    const column = document.createElement("div");
    column.className = "layer";
    column.dataset.layer = k;
    const head = document.createElement("div");
    head.className = "layer-head";
    const title = document.createElement("span");
    title.textContent = `layer ${k}`;
    const unitBox = document.createElement("span");
    unitBox.className = "units";
    const minus = button("\u2212", `units-minus-${k}`, () => changeLayers((l) => { l[index] = Math.max(1, l[index] - 1); }));
    const plus = button("+", `units-plus-${k}`,
      () => changeLayers((l) => { l[index] = Math.min(state.meta.max_units, l[index] + 1); }));
    const count = document.createElement("b");
    count.textContent = ` ${units} `;
    count.dataset.testid = `units-${k}`;
    unitBox.append(minus, count, plus);
    const select = document.createElement("select");
    fillSelect(select, state.meta.activations);
    select.value = act[index];
    select.dataset.testid = `activation-${k}`;
    select.title = `activation of hidden layer ${k}`;
    select.addEventListener("change", () => changeLayers((l, a) => { a[index] = select.value; }));
    head.append(title, unitBox, select);
    const tiles = document.createElement("div");
    tiles.className = "tiles";
    const perRow = units <= 8 ? 1 : units <= 16 ? 2 : units <= 36 ? 3 : 4;
    const size = units <= 8 ? 44 : units <= 16 ? 34 : 24;
    tiles.style.gridTemplateColumns = `repeat(${perRow}, ${size}px)`;
    for (let i = 0; i < units; i++) {
      const wrap = document.createElement("div");
      wrap.className = "tile-wrap";
      const tile = document.createElement("canvas");
      tile.className = "tile";
      tile.style.width = tile.style.height = `${size}px`;
      tile.dataset.testid = `neuron-${k}-${i + 1}`;
      tile.dataset.dead = "false";
      wrap.append(tile);
      tiles.append(wrap);
    }
    column.append(head, tiles);
    grid.append(column);
    const hist = document.createElement("canvas");
    hist.dataset.testid = `histogram-${k}`;
    hists.append(hist);
  });
}

function button(text, testid, onclick) {
  const b = document.createElement("button");
  b.textContent = text;
  b.dataset.testid = testid;
  b.onclick = onclick;
  return b;
}

// ---- frames ------------------------------------------------------------------------------------------------
function newHistory(depth) {
  return {
    step: [], loss: [], accuracy: [], test_loss: [], test_accuracy: [],
    layers: Array.from({ length: depth }, () => ({ grad_w: [], grad_h: [], dead_fraction: [], sparsity: [], saturation: [] })),
  };
}

function thin(h) {
  const half = (a) => a.filter((_, i) => i % 2 === 0);
  for (const key of ["step", "loss", "accuracy", "test_loss", "test_accuracy"]) h[key] = half(h[key]);
  for (const layer of h.layers) for (const key of Object.keys(layer)) layer[key] = half(layer[key]);
}

function onFrame(frame) {
  if (frame.run !== state.run || !state.history || state.history.layers.length !== frame.layers.length) {
    state.run = frame.run;
    state.history = newHistory(frame.layers.length);
    state.frameTimes = [];
  }
  const h = state.history;
  if (h.step.length && h.step[h.step.length - 1] === frame.step) {  // same step again (reset, speed): replace
    h.step.pop(); h.loss.pop(); h.accuracy.pop(); h.test_loss.pop(); h.test_accuracy.pop();
    for (const layer of h.layers) for (const key of Object.keys(layer)) layer[key].pop();
  }
  h.step.push(frame.step);
  for (const key of ["loss", "accuracy", "test_loss", "test_accuracy"]) h[key].push(frame[key]);
  frame.layers.forEach((layer, k) => {
    for (const key of Object.keys(h.layers[k])) h.layers[k][key].push(layer[key]);
  });
  if (h.step.length > MAX_POINTS) thin(h);
  if (frame.playing) {
    const now = performance.now();
    state.frameTimes.push(now);
    while (state.frameTimes.length && now - state.frameTimes[0] > RATE_WINDOW_MS) state.frameTimes.shift();
  }
  state.frame = frame;
  queueRender();
}

function queueRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    render();
  });
}

function render() {
  const frame = state.frame;
  if (!frame || !state.settings || !state.data) return;
  $("step-count").textContent = frame.step;
  $("epoch-count").textContent = frame.epoch;
  const times = state.frameTimes;
  if (times.length >= 5) {
    const rate = (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000);
    $("update-rate").textContent = rate.toFixed(1);
    $("update-rate").dataset.rate = rate.toFixed(2);
  }
  const pct = (v) => (v === null ? "-" : `${(100 * v).toFixed(1)}%`);
  const num = (v) => (v === null ? "NaN" : v.toFixed(4));
  $("metrics").textContent = `loss ${num(frame.loss)} train, ${num(frame.test_loss)} test \u00b7 accuracy ` +
    `${pct(frame.accuracy)} train, ${pct(frame.test_accuracy)} test` +
    (frame.diverged ? " \u00b7 diverged (NaN): lower the learning rate and reset" : "");
  drawBoundary(frame);
  drawNeurons(frame);
  drawCharts();
}

function drawBoundary(frame) {
  const data = state.data, grid = data.grid, classes = data.classes.length;
  const bytes = Uint8Array.from(atob(frame.boundary), (c) => c.charCodeAt(0));
  const cells = document.createElement("canvas");
  cells.width = cells.height = grid;
  const cellCtx = cells.getContext("2d");
  const image = cellCtx.createImageData(grid, grid);
  for (let i = 0; i < grid * grid; i++) {
    const color = CLASS_COLORS[bytes[i] % CLASS_COLORS.length];
    const p = bytes[grid * grid + i] / 255;
    const strength = 0.85 * Math.min(1, Math.max(0, (p - 1 / classes) / (1 - 1 / classes)));
    for (let j = 0; j < 3; j++) image.data[4 * i + j] = Math.round(255 + strength * (color[j] - 255));
    image.data[4 * i + 3] = 255;
  }
  cellCtx.putImageData(image, 0, 0);
  const canvas = $("boundary");
  const { ctx, width, height } = prepare(canvas);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(cells, 0, 0, width, height);
  const [x0, x1, y0, y1] = data.extent;
  const X = (x) => ((x - x0) / (x1 - x0)) * width, Y = (y) => ((y1 - y) / (y1 - y0)) * height;
  const dot = (p, test) => {
    ctx.beginPath();
    ctx.arc(X(p[0]), Y(p[1]), test ? 3.2 : 2.6, 0, 2 * Math.PI);
    ctx.fillStyle = rgb(CLASS_COLORS[p[2] % CLASS_COLORS.length]);
    ctx.fill();
    ctx.lineWidth = test ? 1.4 : 0.8;
    ctx.strokeStyle = test ? "#111" : "#fff";
    ctx.stroke();
  };
  for (const p of data.train) dot(p, false);
  for (const p of data.test) dot(p, true);
  canvas.dataset.step = frame.step;
}

function drawNeurons(frame) {
  const side = state.data.grid / state.data.stride;
  let dead = 0, units = 0;
  frame.layers.forEach((layer, index) => {
    const k = index + 1;
    const bytes = Uint8Array.from(atob(layer.neurons), (c) => c.charCodeAt(0));
    for (let i = 0; i < layer.units; i++) {
      const tile = document.querySelector(`[data-testid="neuron-${k}-${i + 1}"]`);
      if (!tile) continue;
      tile.width = tile.height = side;
      const ctx = tile.getContext("2d");
      const image = ctx.createImageData(side, side);
      const [low, high] = layer.neuron_range[i];
      for (let j = 0; j < side * side; j++) {
        const [c, a] = unitColor(low + (bytes[i * side * side + j] / 255) * (high - low), low, high);
        for (let m = 0; m < 3; m++) image.data[4 * j + m] = Math.round(255 + a * (c[m] - 255));
        image.data[4 * j + 3] = 255;
      }
      ctx.putImageData(image, 0, 0);
      const isDead = layer.dead[i] === 1;
      tile.dataset.dead = String(isDead);
      tile.classList.toggle("dead", isDead);
      tile.parentElement.classList.toggle("dead", isDead);
      tile.title = isDead
        ? `layer ${k}, unit ${i + 1}: dead: outputs exactly 0 on the whole plane and every point`
        : `layer ${k}, unit ${i + 1} (${layer.activation}): from ${low.toPrecision(3)} to ${high.toPrecision(3)} ` +
          "on the plane";
      dead += isDead ? 1 : 0;
      units += 1;
    }
    const hist = document.querySelector(`[data-testid="histogram-${k}"]`);
    if (hist) histogram(hist, layer.hist, layerColor(index, frame.layers.length), `layer ${k} (${layer.activation})`);
  });
  const count = $("dead-count");
  count.textContent = `${dead} / ${units}`;
  count.dataset.dead = dead;
  count.dataset.units = units;
}

// Colour and strength of a unit's value v within its range [low, high]: around zero when the range
// spans both signs (blue negative, orange positive, white 0), otherwise stretched over the range, so a
// unit that barely varies (a saturated sigmoid) still shows its pattern; white is then its value nearest 0.
function unitColor(v, low, high) {
  if (low < 0 && high > 0) return [v >= 0 ? POSITIVE : NEGATIVE, Math.abs(v) / Math.max(-low, high)];
  if (high === low) return [high >= 0 ? POSITIVE : NEGATIVE, high === 0 ? 0 : 0.5];
  if (low >= 0) return [POSITIVE, (v - low) / (high - low) * (low === 0 ? 1 : 0.85) + (low === 0 ? 0 : 0.15)];
  return [NEGATIVE, (high - v) / (high - low) * 0.85 + 0.15];
}

function oneIn(ratio) {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return "no";
  if (ratio >= 0.1) return `${ratio.toPrecision(2)} times`;
  const d = 1 / ratio, digits = Math.max(0, Math.floor(Math.log10(d)) - 1);
  return `1/${(Math.round(d / 10 ** digits) * 10 ** digits).toLocaleString("en-US")} of`;
}

function drawCharts() {
  const h = state.history, frame = state.frame, depth = h.layers.length;
  const points = (values) => h.step.map((s, i) => [s, values[i]]);
  lineChart($("loss-chart"), [
    { label: "train", color: "#333", points: points(h.loss) },
    { label: "test", color: "#999", dash: [4, 3], points: points(h.test_loss) },
  ], { title: "loss (cross-entropy)", yMin: 0, legend: [{ label: "train", color: "#333" }, { label: "test", color: "#999", dash: [4, 3] }] });
  lineChart($("accuracy-chart"), [
    { label: "train", color: "#333", points: points(h.accuracy) },
    { label: "test", color: "#999", dash: [4, 3], points: points(h.test_accuracy) },
  ], { title: "accuracy", fixedY: [0, 1], legend: [{ label: "train", color: "#333" }, { label: "test", color: "#999", dash: [4, 3] }] });
  const gradSeries = [];
  h.layers.forEach((layer, k) => {
    const color = layerColor(k, depth);
    gradSeries.push({ color, points: points(layer.grad_w) });
    gradSeries.push({ color, dash: [4, 3], width: 1, points: points(layer.grad_h) });
  });
  const layerLegend = depth > 1
    ? [{ label: "layer 1", color: layerColor(0, depth) }, { label: `layer ${depth}`, color: layerColor(depth - 1, depth) }]
    : [{ label: "layer 1", color: layerColor(0, 1) }];
  lineChart($("grad-chart"), gradSeries, {
    log: true, title: "gradient reaching each hidden layer (log scale)",
    legend: [...layerLegend, { label: "|dL/dW|", color: "#666" }, { label: "|dL/dh|", color: "#666", dash: [4, 3] }],
  });
  const gradW = frame.layers.map((l) => l.grad_w), gradH = frame.layers.map((l) => l.grad_h);
  const chart = $("grad-chart");
  chart.dataset.gradW = JSON.stringify(gradW);
  chart.dataset.gradH = JSON.stringify(gradH);
  chart.dataset.step = frame.step;
  const first = gradW[0], last = gradW[gradW.length - 1];
  const ratio = first !== null && last ? first / last : null;
  chart.dataset.firstLast = ratio === null ? "" : String(ratio);
  const zero = gradW.map((g, k) => (g === 0 ? k + 1 : null)).filter((k) => k !== null);
  $("grad-ratio").textContent = zero.length
    ? `|dL/dW| is exactly 0 in layer${zero.length > 1 ? "s" : ""} ${zero.join(", ")}: no gradient reaches ` +
      "those weights (dead units pass none), and 0 has no place on a log scale."
    : depth > 1 && ratio !== null ? `Now layer 1 gets ${oneIn(ratio)} the |dL/dW| layer ${depth} gets.` : "";
  const fractionChart = (id, key, title) => {
    const series = h.layers.map((layer, k) => ({ color: layerColor(k, depth), points: points(layer[key]) }));
    const empty = series.every((s) => s.points.every(([, y]) => y === null));
    lineChart($(id), series, { title: empty ? `${title}: none here` : title, fixedY: [0, 1] });
  };
  fractionChart("dead-chart", "dead_fraction", "dead units per layer (fraction)");
  fractionChart("sparsity-chart", "sparsity", "exact zeros per layer (sparsity)");
  fractionChart("saturation-chart", "saturation", "saturated outputs per layer (sigmoid / tanh tails)");
}

// ---- the figure as PNG ---------------------------------------------------------------------------------------
function exportPng() {
  $("export-menu").hidden = true;
  if (!state.frame) return;
  const s = state.settings, frame = state.frame;
  const figure = document.createElement("canvas");
  const width = 1280, height = 900;
  figure.width = width;
  figure.height = height;
  const ctx = figure.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#222";
  ctx.font = "16px system-ui, sans-serif";
  ctx.fillText(`tinygrad_relu playground: ${s.dataset}, hidden ${s.layers.join("-")} (${[...new Set(s.act)].join(", ")}), ` +
    `${s.opt} lr ${s.lr}, batch ${s.batch}, step ${frame.step}`, 20, 28);
  ctx.drawImage($("boundary"), 20, 50, 360, 360);
  // the neuron grid: one column per layer
  const tiles = [...document.querySelectorAll(".neuron-grid .layer")];
  let x = 400;
  for (const column of tiles) {
    const canvases = [...column.querySelectorAll("canvas.tile")];
    const size = Math.max(8, Math.min(40, Math.floor(360 / Math.max(canvases.length, 1)) - 2));
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(`L${column.dataset.layer}`, x, 48);
    canvases.forEach((tile, i) => {
      const y = 54 + i * (size + 2);
      ctx.drawImage(tile, x, y, size, size);
      if (tile.dataset.dead === "true") {
        ctx.strokeStyle = "#c62828";
        ctx.lineWidth = 2;
        ctx.strokeRect(x, y, size, size);
        ctx.beginPath(); ctx.moveTo(x, y + size); ctx.lineTo(x + size, y); ctx.stroke();
      }
    });
    x += size + 8;
    if (x > width - 40) break;
  }
  const place = (id, left, top, w, h) => ctx.drawImage($(id), left, top, w, h);
  place("loss-chart", 20, 430, 400, 140);
  place("accuracy-chart", 20, 580, 400, 140);
  place("grad-chart", 440, 430, 500, 290);
  place("dead-chart", 960, 430, 300, 95);
  place("sparsity-chart", 960, 528, 300, 95);
  place("saturation-chart", 960, 626, 300, 95);
  const hists = [...document.querySelectorAll("#histograms canvas")];
  hists.forEach((hist, i) => ctx.drawImage(hist, 20 + i * 104, 740, 100, 60));
  ctx.fillStyle = "#444";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText($("metrics").textContent, 20, 830);
  ctx.fillText(`dead units ${$("dead-count").textContent}; settings ?${location.search.slice(1)}`.slice(0, 200), 20, 850);
  figure.toBlob((blob) => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "playground_figure.png";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }, "image/png");
}

async function main() {
  try {
    state.meta = await (await fetch("/api/meta")).json();
  } catch (err) {
    showStatus("Cannot reach the playground server: " + err.message, true);
    return;
  }
  buildControls();
  connect();
}

main();
