// Small canvas drawings for the playground: line charts (linear or log y), bar histograms, colours.
// Plain canvas 2D, no library: each chart is redrawn from its data on every update.

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
export const CLASS_COLORS = [[245, 147, 34], [8, 119, 189], [44, 160, 44], [148, 103, 189], [214, 39, 40],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]];

// Colour of layer k of n: dark (input side) to yellow (output side).
export function layerColor(k, n) {
  const t = n <= 1 ? 0 : k / (n - 1);
  const x = t * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  const c = VIRIDIS[i].map((v, j) => Math.round(v + f * (VIRIDIS[i + 1][j] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export function rgb(c, alpha = 1) {
  return `rgba(${c[0]},${c[1]},${c[2]},${alpha})`;
}

// Size the canvas backing store to its CSS box times the device pixel ratio; returns the 2D context
// scaled so that drawing uses CSS pixels.
export function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

function formatTick(value, log) {
  if (log) {
    const e = Math.round(Math.log10(value));
    return e === 0 ? "1" : `1e${e}`;
  }
  if (value === 0) return "0";
  const a = Math.abs(value);
  if (a >= 1000 || a < 0.01) return value.toExponential(0);
  return Number(value.toPrecision(3)).toString();
}

function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
}

// series: [{label, color, dash, points: [[x, y], ...]}]; y null or (on a log axis) <= 0 breaks the line.
export function lineChart(canvas, series, options = {}) {
  const { ctx, width, height } = prepare(canvas);
  const log = !!options.log;
  const pad = { left: 46, right: 10, top: options.title ? 20 : 8, bottom: 22 };
  let xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity;
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (x < xMin) xMin = x;
      if (x > xMax) xMax = x;
      if (y === null || !Number.isFinite(y) || (log && y <= 0)) continue;
      if (y < yMin) yMin = y;
      if (y > yMax) yMax = y;
    }
  }
  if (options.yMin !== undefined) yMin = Math.min(options.yMin, yMin === Infinity ? options.yMin : yMin);
  if (options.yMax !== undefined) yMax = Math.max(options.yMax, yMax === -Infinity ? options.yMax : yMax);
  if (options.fixedY) [yMin, yMax] = options.fixedY;
  if (!Number.isFinite(xMin)) { xMin = 0; xMax = 1; }
  if (xMax === xMin) xMax = xMin + 1;
  if (!Number.isFinite(yMin) || !Number.isFinite(yMax)) { yMin = log ? 1e-3 : 0; yMax = 1; }
  if (log) {
    yMin = Math.pow(10, Math.floor(Math.log10(yMin)));
    yMax = Math.pow(10, Math.ceil(Math.log10(yMax)));
    if (yMax === yMin) yMax = yMin * 10;
  } else if (yMax === yMin) {
    yMax = yMin + 1;
  }
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const X = (x) => pad.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const Y = log
    ? (y) => pad.top + (1 - (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH
    : (y) => pad.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;

  ctx.font = "10px system-ui, sans-serif";
  ctx.fillStyle = "#555";
  ctx.strokeStyle = "#e3e3e3";
  ctx.lineWidth = 1;
  const yTicks = [];
  if (log) {
    const decades = Math.round(Math.log10(yMax) - Math.log10(yMin));
    const every = Math.max(1, Math.ceil(decades / 6));
    for (let e = Math.round(Math.log10(yMin)); e <= Math.round(Math.log10(yMax)); e += every) yTicks.push(Math.pow(10, e));
  } else {
    const step = niceStep(yMax - yMin, Math.max(1, Math.min(4, Math.floor(plotH / 22))));
    for (let v = Math.ceil(yMin / step) * step; v <= yMax + 1e-12; v += step) yTicks.push(v);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of yTicks) {
    const y = Y(v);
    ctx.beginPath(); ctx.moveTo(pad.left, y); ctx.lineTo(width - pad.right, y); ctx.stroke();
    ctx.fillText(formatTick(v, log), pad.left - 4, y);
  }
  const xStep = niceStep(xMax - xMin, 5);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let v = Math.ceil(xMin / xStep) * xStep; v <= xMax + 1e-9; v += xStep) {
    ctx.fillText(formatTick(v, false), X(v), height - pad.bottom + 4);
  }
  ctx.strokeStyle = "#999";
  ctx.strokeRect(pad.left, pad.top, plotW, plotH);
  if (options.title) {
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillStyle = "#333";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(options.title, pad.left, 3);
  }

  ctx.save();
  ctx.beginPath();
  ctx.rect(pad.left, pad.top, plotW, plotH);
  ctx.clip();
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width || 1.5;
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let open = false;
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y) || (log && y <= 0)) { open = false; continue; }
      if (open) ctx.lineTo(X(x), Y(y)); else ctx.moveTo(X(x), Y(y));
      open = true;
    }
    if (s.points.length === 1 && open) {
      const [x, y] = s.points[0];
      ctx.fillStyle = s.color;
      ctx.fillRect(X(x) - 1.5, Y(y) - 1.5, 3, 3);
    }
    ctx.stroke();
  }
  ctx.restore();
  ctx.setLineDash([]);
  if (options.legend) drawLegend(ctx, options.legend, width - pad.right - 4, pad.top + 4);
}

// legend: [{label, color, dash}], drawn right-aligned from (right, top).
function drawLegend(ctx, entries, right, top) {
  ctx.font = "10px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  const widths = entries.map((e) => ctx.measureText(e.label).width + 26);
  let x = right - widths.reduce((a, b) => a + b, 0);
  ctx.fillStyle = "rgba(255,255,255,0.8)";
  ctx.fillRect(x - 2, top - 6, right - x + 4, 12);
  entries.forEach((e, i) => {
    ctx.strokeStyle = e.color;
    ctx.lineWidth = 2;
    ctx.setLineDash(e.dash || []);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x + 18, top); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#333";
    ctx.fillText(e.label, x + 21, top);
    x += widths[i];
  });
}

// A bar histogram of counts over [lo, hi], with a mark at zero.
export function histogram(canvas, hist, color, title) {
  const { ctx, width, height } = prepare(canvas);
  const pad = { left: 4, right: 4, top: 14, bottom: 14 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const peak = Math.max(1, ...hist.counts);
  const barW = plotW / hist.counts.length;
  ctx.fillStyle = color;
  hist.counts.forEach((c, i) => {
    const h = (c / peak) * plotH;
    ctx.fillRect(pad.left + i * barW + 0.5, pad.top + plotH - h, Math.max(barW - 1, 1), h);
  });
  if (hist.lo < 0 && hist.hi > 0) {
    const x0 = pad.left + ((0 - hist.lo) / (hist.hi - hist.lo)) * plotW;
    ctx.strokeStyle = "#c00";
    ctx.beginPath(); ctx.moveTo(x0, pad.top); ctx.lineTo(x0, pad.top + plotH); ctx.stroke();
  }
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillStyle = "#333";
  ctx.textBaseline = "top";
  ctx.textAlign = "left";
  ctx.fillText(title, pad.left, 1);
  ctx.fillStyle = "#666";
  ctx.textBaseline = "bottom";
  ctx.fillText(formatTick(hist.lo, false), pad.left, height);
  ctx.textAlign = "right";
  ctx.fillText(formatTick(hist.hi, false), width - pad.right, height);
}
