// The capture page: the signal plot (uPlot, fed window by window from the server's plot route),
// segments drawn and edited on it (each change saved through the REST API at once, with undo
// and redo), and the capture's metadata. Every user string goes into the page as text.
import uPlot from "../vendor/uPlot.esm.js";
import { api, say } from "./api.js";

const app = document.getElementById("capture-app");
const project = app.dataset.project;
const capture = app.dataset.capture;
// A recording's total grows while the page is open (follow(), at the end).
let total = Number(app.dataset.samples);
let lastIndex = Math.max(Number(app.dataset.maxSequence), total - 1);
const rate = app.dataset.rate ? Number(app.dataset.rate) : null;
const capturePath = `project/${project}/capture/${capture}`;

const CHANNEL_COLORS = [
  "#2f6fde", "#e8590c", "#2b8a3e", "#c2255c", "#6741d9",
  "#0b7285", "#e67700", "#5c940d", "#862e9c", "#364fc7",
];
const EDGE_PIXELS = 6; // how near an edge a press grabs it

// Sample index <-> x value: seconds when the sample rate is known, else samples.
const toX = (index) => (rate ? index / rate : index);
document.getElementById("plot")?.setAttribute("data-x-unit", rate ? "seconds" : "samples");
const toIndex = (x) => Math.round(rate ? x * rate : x);

// ---------------------------------------------------------------- state

const state = {
  channels: [],
  visible: [],
  window: { start: 0, end: total },
  plot: null,
  loading: 0,
  draws: 0,
  values: [], // label values a segment can take: {label, labelUuid, value, uuid, color}
  current: null, // the label value new segments get
  segments: [], // {uuid, label, labelUuid, value, valueUuid, color, start, end}
  selected: null,
  gesture: null, // a drag in progress: {kind: "create"|"resize", ...}
  undo: [],
  redo: [],
};

const plotBox = document.getElementById("plot");
const plotStatus = document.getElementById("plot-status");
const segmentStatus = document.getElementById("segment-status");

// ---------------------------------------------------------------- the signal

async function fetchWindow(start, end) {
  const width = Math.max(100, Math.min(4000, Math.round(plotBox.clientWidth || 1000)));
  const params = new URLSearchParams({
    start: String(Math.max(0, Math.floor(start))),
    end: String(Math.min(total, Math.ceil(end))),
    buckets: String(width),
  });
  return api(`${capturePath}/plot/?${params}`);
}

// uPlot's data: x, then per channel its low and high line (the same line for raw samples;
// a min/max band when a pixel holds many samples, so no spike is lost).
function toData(window) {
  const xs = window.index.map(toX);
  const data = [xs];
  window.channels.forEach((_, i) => {
    if (window.resolution === "raw") {
      data.push(window.values[i], window.values[i]);
    } else {
      data.push(window.min[i], window.max[i]);
    }
  });
  return data;
}

let pending = null;

async function loadWindow(start, end, { keepScale = true } = {}) {
  const ticket = {};
  pending = ticket;
  state.loading += 1;
  plotBox.dataset.loading = "true";
  try {
    const window = await fetchWindow(start, end);
    if (pending !== ticket) return; // a newer window was asked for meanwhile
    state.window = { start: window.start, end: window.end };
    if (!state.plot) {
      makePlot(window);
    } else {
      // The y range follows the window's values; x stays where the person put it.
      state.plot.setData(toData(window));
      if (keepScale) state.plot.setScale("x", { min: toX(start), max: toX(end) });
    }
    say(
      plotStatus,
      window.resolution === "raw"
        ? `${(window.end - window.start).toLocaleString("en")} samples`
        : `min/max of ${(window.end - window.start).toLocaleString("en")} samples`,
    );
  } catch (error) {
    say(plotStatus, error.message, true);
  } finally {
    state.loading -= 1;
    if (state.loading === 0) plotBox.dataset.loading = "false";
  }
}

function makePlot(window) {
  state.channels = window.channels;
  state.visible = window.channels.map(() => true);
  const series = [{ label: rate ? "Time (s)" : "Sample" }];
  const bands = [];
  window.channels.forEach((name, i) => {
    const color = CHANNEL_COLORS[i % CHANNEL_COLORS.length];
    series.push({ label: `${name} min`, stroke: color, width: 1 });
    series.push({ label: `${name} max`, stroke: color, width: 1 });
    bands.push({ series: [2 + 2 * i, 1 + 2 * i], fill: `${color}33` });
  });
  const options = {
    width: plotBox.clientWidth - 16,
    height: 360,
    series,
    bands,
    legend: { show: false },
    scales: { x: { time: false } },
    axes: [{ label: rate ? "seconds" : "samples" }, {}],
    cursor: { drag: { x: true, y: false, setScale: false } },
    hooks: {
      draw: [drawSegments, countDraw],
      setSelect: [onSelect],
    },
  };
  state.plot = new uPlot(options, toData(window), plotBox);
  makeChannelToggles();
  bindPointer();
}

// The plot tells what it shows (drawn frames, the x range in samples): tests and the
// benchmark read it, and it costs nothing.
function countDraw(u) {
  state.draws += 1;
  plotBox.dataset.draws = String(state.draws);
  // When the signal first showed, in ms since the navigation started (the benchmark's figure).
  if (!plotBox.dataset.shownMs) plotBox.dataset.shownMs = performance.now().toFixed(1);
  plotBox.dataset.xMin = String(rate ? u.scales.x.min * rate : u.scales.x.min);
  plotBox.dataset.xMax = String(rate ? u.scales.x.max * rate : u.scales.x.max);
}

function makeChannelToggles() {
  const box = document.getElementById("channel-toggles");
  state.channels.forEach((name, i) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = true;
    input.addEventListener("change", () => {
      state.visible[i] = input.checked;
      state.plot.setSeries(1 + 2 * i, { show: input.checked });
      state.plot.setSeries(2 + 2 * i, { show: input.checked });
    });
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = CHANNEL_COLORS[i % CHANNEL_COLORS.length];
    const text = document.createElement("span");
    text.textContent = name;
    label.append(input, swatch, text);
    box.append(label);
  });
}

function currentRange() {
  const scale = state.plot.scales.x;
  return [toIndex(scale.min), toIndex(scale.max)];
}

// Zoom to [start, end) sample indices: the scale moves at once, the samples follow.
function zoomTo(start, end) {
  let lo = Math.max(0, Math.floor(start));
  let hi = Math.min(total, Math.ceil(end));
  if (hi - lo < 10) {
    const middle = (lo + hi) / 2;
    lo = Math.max(0, Math.floor(middle - 5));
    hi = Math.min(total, lo + 10);
  }
  state.plot.setScale("x", { min: toX(lo), max: toX(hi) });
  loadWindow(lo, hi);
}

function zoomBy(factor, anchorIndex = null) {
  const [lo, hi] = currentRange();
  const anchor = anchorIndex ?? (lo + hi) / 2;
  zoomTo(anchor - (anchor - lo) * factor, anchor + (hi - anchor) * factor);
}

function panBy(fraction) {
  const [lo, hi] = currentRange();
  const width = hi - lo;
  let start = lo + width * fraction;
  start = Math.max(0, Math.min(total - width, start));
  zoomTo(start, start + width);
}

function onSelect(u) {
  if (u.select.width < 3) return;
  const lo = toIndex(u.posToVal(u.select.left, "x"));
  const hi = toIndex(u.posToVal(u.select.left + u.select.width, "x"));
  u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
  if (dragMode() === "zoom") zoomTo(lo, hi);
}

document.getElementById("zoom-in")?.addEventListener("click", () => zoomBy(0.5));
document.getElementById("zoom-out")?.addEventListener("click", () => zoomBy(2));
document.getElementById("pan-left")?.addEventListener("click", () => panBy(-0.5));
document.getElementById("pan-right")?.addEventListener("click", () => panBy(0.5));
document.getElementById("reset-zoom")?.addEventListener("click", () => zoomTo(0, total));

function dragMode() {
  return document.querySelector('input[name="drag-mode"]:checked')?.value || "zoom";
}

function setDragMode(mode) {
  const radio = document.querySelector(`input[name="drag-mode"][value="${mode}"]`);
  if (radio) radio.checked = true;
  if (state.plot) state.plot.cursor.drag.x = mode === "zoom";
}

for (const radio of document.querySelectorAll('input[name="drag-mode"]')) {
  radio.addEventListener("change", () => setDragMode(dragMode()));
}

// ---------------------------------------------------------------- segments on the plot

function drawSegments(u) {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const band = (start, end, color, alpha) => {
    const x0 = u.valToPos(toX(start), "x", true);
    const x1 = u.valToPos(toX(end + 1), "x", true);
    ctx.globalAlpha = alpha;
    ctx.fillStyle = color;
    ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    return [x0, x1];
  };
  for (const segment of state.segments) {
    const chosen = segment === state.selected;
    const [x0, x1] = band(segment.start, segment.end, segment.color, chosen ? 0.42 : 0.2);
    if (chosen) {
      ctx.globalAlpha = 1;
      ctx.strokeStyle = "#1d2430";
      ctx.lineWidth = 2;
      ctx.strokeRect(x0, top + 1, x1 - x0, height - 2);
    }
  }
  const gesture = state.gesture;
  if (gesture && gesture.kind === "create" && gesture.moved) {
    band(Math.min(gesture.from, gesture.to), Math.max(gesture.from, gesture.to), gesture.color, 0.35);
  }
  ctx.restore();
}

// The sample under a pointer event, clamped to the capture.
function indexAt(event) {
  const rect = state.plot.over.getBoundingClientRect();
  const x = state.plot.posToVal(event.clientX - rect.left, "x");
  return Math.max(0, Math.min(lastIndex, toIndex(x)));
}

function pixelOf(index) {
  return state.plot.valToPos(toX(index), "x");
}

// The segment edge within reach of the pointer (the selected segment's first).
function edgeAt(event) {
  const rect = state.plot.over.getBoundingClientRect();
  const px = event.clientX - rect.left;
  const candidates = state.selected
    ? [state.selected, ...state.segments.filter((s) => s !== state.selected)]
    : state.segments;
  for (const segment of candidates) {
    if (Math.abs(pixelOf(segment.start) - px) <= EDGE_PIXELS) return { segment, edge: "start" };
    if (Math.abs(pixelOf(segment.end + 1) - px) <= EDGE_PIXELS) return { segment, edge: "end" };
  }
  return null;
}

function segmentAt(index) {
  // The shortest segment under the pointer: a short one over a long one stays reachable.
  const under = state.segments.filter((s) => s.start <= index && index <= s.end);
  under.sort((a, b) => a.end - a.start - (b.end - b.start));
  return under[0] || null;
}

function bindPointer() {
  const over = state.plot.over;
  setDragMode(dragMode());
  over.addEventListener("mousemove", (event) => {
    if (state.gesture) return;
    over.style.cursor = edgeAt(event) ? "ew-resize" : dragMode() === "label" ? "crosshair" : "";
  });
  // Capture phase on the plot's root: a press that edits segments never reaches uPlot.
  state.plot.root.addEventListener(
    "mousedown",
    (event) => {
      if (event.button !== 0 || !over.contains(event.target)) return;
      const edge = edgeAt(event);
      const index = indexAt(event);
      if (edge) {
        state.gesture = {
          kind: "resize",
          segment: edge.segment,
          edge: edge.edge,
          before: { start: edge.segment.start, end: edge.segment.end },
          moved: false,
        };
      } else if (dragMode() === "label") {
        if (!state.current) {
          say(segmentStatus, "Pick a label value first (the list, or keys 1–9).", true);
          return;
        }
        state.gesture = {
          kind: "create", from: index, to: index, color: state.current.color, moved: false,
        };
      } else {
        // Zoom mode: uPlot's own drag; a click without a drag selects the segment there.
        state.pressAt = { index, x: event.clientX };
        return;
      }
      event.stopPropagation();
      event.preventDefault();
      plotBox.focus({ preventScroll: true });
    },
    true,
  );
  document.addEventListener("mousemove", (event) => {
    const gesture = state.gesture;
    if (!gesture) return;
    const index = indexAt(event);
    gesture.moved = true;
    if (gesture.kind === "create") {
      gesture.to = index;
    } else if (gesture.edge === "start") {
      gesture.segment.start = Math.min(index, gesture.segment.end - 1);
    } else {
      gesture.segment.end = Math.max(index - 1, gesture.segment.start + 1);
    }
    state.plot.redraw(false);
  });
  document.addEventListener("mouseup", (event) => {
    const gesture = state.gesture;
    if (!gesture) {
      if (state.pressAt && Math.abs(event.clientX - state.pressAt.x) < 3) {
        select(segmentAt(state.pressAt.index));
      }
      state.pressAt = null;
      return;
    }
    state.gesture = null;
    if (gesture.kind === "create") {
      const start = Math.min(gesture.from, gesture.to);
      const end = Math.max(gesture.from, gesture.to);
      if (!gesture.moved || end - start < 1) {
        select(segmentAt(gesture.from));
        state.plot.redraw(false);
        return;
      }
      perform(createCommand({ ...state.current, start, end }));
    } else if (!gesture.moved) {
      select(gesture.segment);
    } else {
      const { segment, before } = gesture;
      const after = { start: segment.start, end: segment.end };
      if (after.start !== before.start || after.end !== before.end) {
        perform(resizeCommand(segment, before, after), { applied: true });
      }
    }
  });
  over.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      if (event.shiftKey) {
        panBy((event.deltaY || event.deltaX) > 0 ? 0.2 : -0.2);
        return;
      }
      const rect = over.getBoundingClientRect();
      const anchor = toIndex(state.plot.posToVal(event.clientX - rect.left, "x"));
      zoomBy(event.deltaY > 0 ? 1.5 : 1 / 1.5, anchor);
    },
    { passive: false },
  );
  window.addEventListener("resize", () => {
    state.plot.setSize({ width: plotBox.clientWidth - 16, height: 360 });
  });
}

function cancelGesture() {
  const gesture = state.gesture;
  if (!gesture) return false;
  state.gesture = null;
  if (gesture.kind === "resize") {
    gesture.segment.start = gesture.before.start;
    gesture.segment.end = gesture.before.end;
  }
  state.plot.redraw(false);
  return true;
}

// ---------------------------------------------------------------- segments: data and commands

function fromApi(item) {
  const value = state.values.find((v) => v.uuid === item.label_value);
  return {
    uuid: item.uuid,
    label: item.label_name,
    labelUuid: item.label,
    value: item.value,
    valueUuid: item.label_value,
    color: value ? value.color : "#868e96",
    start: item.capture_sample_sequence_start,
    end: item.capture_sample_sequence_end,
  };
}

function body(segment) {
  return {
    label: segment.labelUuid,
    label_value: segment.valueUuid,
    capture_sample_sequence_start: segment.start,
    capture_sample_sequence_end: segment.end,
  };
}

async function postSegment(segment) {
  const [created] = await api(`${capturePath}/label-relationship/`, {
    method: "POST",
    body: body(segment),
  });
  segment.uuid = created.uuid;
}

function sortSegments() {
  state.segments.sort((a, b) => a.start - b.start || a.end - b.end);
}

// A command changes the page and the server; undo does the opposite. A segment deleted and
// brought back gets a new uuid from the server: commands hold the segment object, not its uuid.
function createCommand(fields) {
  const segment = {
    uuid: null,
    label: fields.label,
    labelUuid: fields.labelUuid,
    value: fields.value,
    valueUuid: fields.uuid,
    color: fields.color,
    start: fields.start,
    end: fields.end,
  };
  return {
    what: `Added ${segment.value}`,
    async apply() {
      await postSegment(segment);
      state.segments.push(segment);
      sortSegments();
      state.selected = segment;
    },
    async revert() {
      await api(`${capturePath}/label-relationship/${segment.uuid}/`, { method: "DELETE" });
      state.segments = state.segments.filter((s) => s !== segment);
      if (state.selected === segment) state.selected = null;
    },
  };
}

function resizeCommand(segment, before, after) {
  const save = async (bounds) => {
    await api(`${capturePath}/label-relationship/${segment.uuid}/`, {
      method: "PATCH",
      body: {
        capture_sample_sequence_start: bounds.start,
        capture_sample_sequence_end: bounds.end,
      },
    });
    segment.start = bounds.start;
    segment.end = bounds.end;
    sortSegments();
  };
  return {
    what: `Resized ${segment.value}`,
    apply: () => save(after),
    revert: () => save(before),
    undoLocal() {
      segment.start = before.start;
      segment.end = before.end;
    },
  };
}

function deleteCommand(segment) {
  return {
    what: `Deleted ${segment.value}`,
    async apply() {
      await api(`${capturePath}/label-relationship/${segment.uuid}/`, { method: "DELETE" });
      state.segments = state.segments.filter((s) => s !== segment);
      if (state.selected === segment) state.selected = null;
    },
    async revert() {
      await postSegment(segment);
      state.segments.push(segment);
      sortSegments();
      state.selected = segment;
    },
  };
}

let busy = Promise.resolve();

// Changes run one after another, in the order they were made.
function queue(work) {
  busy = busy.then(work, work);
  return busy;
}

function perform(command, { applied = false } = {}) {
  return queue(async () => {
    try {
      await command.apply();
      state.undo.push(command);
      state.redo = [];
      say(segmentStatus, `${command.what}; saved.`);
    } catch (error) {
      if (applied && command.undoLocal) command.undoLocal();
      say(segmentStatus, `Not saved: ${error.message}`, true);
    }
    refreshSegments();
  });
}

function undo() {
  return queue(async () => {
    const command = state.undo.pop();
    if (!command) return;
    try {
      await command.revert();
      state.redo.push(command);
      say(segmentStatus, `Undone: ${command.what}.`);
    } catch (error) {
      state.undo.push(command);
      say(segmentStatus, `Could not undo: ${error.message}`, true);
    }
    refreshSegments();
  });
}

function redo() {
  return queue(async () => {
    const command = state.redo.pop();
    if (!command) return;
    try {
      await command.apply();
      state.undo.push(command);
      say(segmentStatus, `Redone: ${command.what}.`);
    } catch (error) {
      state.redo.push(command);
      say(segmentStatus, `Could not redo: ${error.message}`, true);
    }
    refreshSegments();
  });
}

function select(segment) {
  state.selected = segment;
  refreshSegments();
  if (!segment) return;
  // Scroll it into view on the plot, keeping the zoom (the page itself stays put, so the
  // plot stays under the pointer).
  const [lo, hi] = currentRange();
  if (segment.end < lo || segment.start > hi) {
    const width = hi - lo;
    const middle = (segment.start + segment.end) / 2;
    const start = Math.max(0, Math.min(total - width, middle - width / 2));
    zoomTo(start, start + width);
  }
}

function step(direction) {
  if (!state.segments.length) return;
  let at = state.segments.indexOf(state.selected);
  if (at === -1) at = direction > 0 ? -1 : state.segments.length;
  const next = state.segments[Math.max(0, Math.min(state.segments.length - 1, at + direction))];
  select(next);
}

function refreshSegments() {
  const tbody = document.querySelector("#segments tbody");
  const rows = state.segments.map((segment) => {
    const row = document.createElement("tr");
    if (segment === state.selected) row.className = "selected-segment";
    const cells = [
      segment.label,
      segment.value,
      segment.start.toLocaleString("en"),
      segment.end.toLocaleString("en"),
      (segment.end - segment.start + 1).toLocaleString("en"),
    ];
    cells.forEach((text, i) => {
      const cell = document.createElement("td");
      if (i >= 2) cell.className = "num";
      cell.textContent = text;
      row.append(cell);
    });
    row.addEventListener("click", () => select(segment));
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = 5;
    cell.textContent = "No segments yet.";
    row.append(cell);
    rows.push(row);
  }
  tbody.replaceChildren(...rows);
  if (state.plot) state.plot.redraw(false);
}

// ---------------------------------------------------------------- label values

async function loadLabelValues() {
  const labels = await api(`project/${project}/label/`);
  state.values = [];
  for (const label of labels) {
    for (const value of label.label_values) {
      state.values.push({
        label: label.name,
        labelUuid: label.uuid,
        value: value.value,
        uuid: value.uuid,
        color: value.color.slice(0, 7),
      });
    }
  }
  const select = document.getElementById("label-value");
  if (select) {
    const options = state.values.map((value, i) => {
      const option = document.createElement("option");
      option.value = value.uuid;
      option.textContent = `${i < 9 ? `${i + 1}: ` : ""}${value.label}: ${value.value}`;
      return option;
    });
    select.replaceChildren(...options);
    if (state.current) select.value = state.current.uuid;
    state.current = state.values.find((v) => v.uuid === select.value) || state.values[0] || null;
  }
  const legend = document.getElementById("segment-legend");
  if (legend) {
    legend.replaceChildren(
      ...state.values.map((value) => {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = value.color;
        const text = document.createElement("span");
        text.textContent = ` ${value.label}: ${value.value}`;
        item.append(swatch, text);
        return item;
      }),
    );
  }
}

function pickValue(value) {
  state.current = value;
  const select = document.getElementById("label-value");
  if (select) select.value = value.uuid;
  setDragMode("label");
  say(segmentStatus, `Dragging now adds ${value.label}: ${value.value}.`);
}

document.getElementById("label-value")?.addEventListener("change", (event) => {
  const value = state.values.find((v) => v.uuid === event.target.value);
  if (value) pickValue(value);
});

document.getElementById("new-value")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = document.getElementById("new-label-name").value.trim();
  const text = document.getElementById("new-label-value").value.trim();
  try {
    const labels = await api(`project/${project}/label/`);
    const label = labels.find((l) => l.name === name);
    if (label) {
      await api(`project/${project}/label/${label.uuid}/labelvalue/`, {
        method: "POST",
        body: { value: text },
      });
    } else {
      await api(`project/${project}/label/`, { method: "POST", body: { name, values: [text] } });
    }
    await loadLabelValues();
    const added = state.values.find((v) => v.label === name && v.value === text);
    if (added) pickValue(added);
    document.getElementById("new-label-value").value = "";
  } catch (error) {
    say(segmentStatus, error.message, true);
  }
});

// ---------------------------------------------------------------- keys

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target.matches?.("input, select, textarea")) return;
  const key = event.key;
  if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "z") {
    event.preventDefault();
    if (event.shiftKey) redo();
    else undo();
    return;
  }
  if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "y") {
    event.preventDefault();
    redo();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (/^[1-9]$/.test(key)) {
    const value = state.values[Number(key) - 1];
    if (value) pickValue(value);
  } else if (key === "Escape") {
    if (!cancelGesture()) select(null);
  } else if (key === "Delete" || key === "Backspace") {
    if (state.selected) {
      event.preventDefault();
      perform(deleteCommand(state.selected));
    }
  } else if (key === "ArrowRight") {
    event.preventDefault();
    step(1);
  } else if (key === "ArrowLeft") {
    event.preventDefault();
    step(-1);
  }
});

// ---------------------------------------------------------------- metadata

const metadataStatus = document.getElementById("metadata-status");

async function loadMetadata() {
  const [rows, keys] = await Promise.all([
    api(`v2/${capturePath}/metadata-relationship/`),
    api(`project/${project}/metadata/`),
  ]);
  const tbody = document.querySelector("#metadata tbody");
  const lines = rows.map((row) => {
    const line = document.createElement("tr");
    const key = document.createElement("td");
    key.textContent = row.label_name;
    const value = document.createElement("td");
    value.textContent = row.value;
    const actions = document.createElement("td");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${row.label_name}`);
    remove.addEventListener("click", async () => {
      try {
        await api(`v2/${capturePath}/metadata-relationship/${row.uuid}/`, { method: "DELETE" });
        say(metadataStatus, `Removed ${row.label_name}.`);
      } catch (error) {
        say(metadataStatus, error.message, true);
      }
      loadMetadata();
    });
    actions.append(remove);
    line.append(key, value, actions);
    return line;
  });
  if (!lines.length) {
    const line = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = 3;
    cell.textContent = "No metadata yet.";
    line.append(cell);
    lines.push(line);
  }
  tbody.replaceChildren(...lines);
  document.getElementById("metadata-keys").replaceChildren(
    ...keys.map((key) => {
      const option = document.createElement("option");
      option.value = key.name;
      return option;
    }),
  );
  return keys;
}

document.getElementById("metadata-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = document.getElementById("metadata-key").value.trim();
  const value = document.getElementById("metadata-value").value.trim();
  try {
    const keys = await api(`project/${project}/metadata/`);
    if (!keys.some((k) => k.name === key)) {
      await api(`project/${project}/metadata/`, {
        method: "POST",
        body: { name: key, is_dropdown: false },
      });
    }
    await api(`v2/${capturePath}/metadata-relationship/`, {
      method: "POST",
      body: { label: key, label_value: value },
    });
    say(metadataStatus, `Saved ${key} = ${value}.`);
    document.getElementById("metadata-value").value = "";
  } catch (error) {
    say(metadataStatus, error.message, true);
  }
  loadMetadata();
});

// ---------------------------------------------------------------- start

async function start() {
  // The signal, the segments and the metadata are asked for at once; the plot draws the
  // segments whenever they arrive.
  const plotting =
    (app.dataset.ready === "true" || app.dataset.recording === "true") && total > 0
      ? loadWindow(0, total, { keepScale: false })
      : Promise.resolve();
  loadMetadata().catch((error) => say(metadataStatus, error.message, true));
  try {
    const [, segments] = await Promise.all([
      loadLabelValues(),
      api(`${capturePath}/label-relationship/`),
    ]);
    state.segments = segments.map(fromApi);
    sortSegments();
  } catch (error) {
    say(segmentStatus, error.message, true);
  }
  refreshSegments();
  await plotting;
}

// ---------------------------------------------------------------- following a recording

// A capture being recorded: the page asks the recording's status every FOLLOW_MS and, when
// more samples are stored and the plot shows the end (as it does unless the person zoomed
// or panned away from it), loads the window again up to the new end, keeping its width when
// zoomed in. Polling the status (a one-row read) rather than a socket keeps the page as
// simple as the other pages and costs a server nothing between samples.
const FOLLOW_MS = 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow() {
  while (app.dataset.recording === "true") {
    await sleep(FOLLOW_MS);
    let status;
    try {
      status = await api(`project/${project}/recordings/${capture}/`);
    } catch (error) {
      say(plotStatus, error.message, true);
      continue;
    }
    if (status.samples > total) {
      const [lo, hi] = state.plot ? currentRange() : [0, total];
      const atEnd = !state.plot || hi >= total - 1; // the last sample is at total - 1
      const width = hi - lo;
      const whole = !state.plot || lo <= 0;
      total = status.samples;
      lastIndex = total - 1;
      app.dataset.samples = String(total);
      if (!state.plot) {
        await loadWindow(0, total, { keepScale: false });
      } else if (atEnd) {
        await loadWindow(whole ? 0 : Math.max(0, total - width), total);
      }
    }
    if (status.state !== "recording") {
      app.dataset.recording = "false";
      say(plotStatus, `The recording stopped at ${total.toLocaleString("en")} samples.`);
    }
  }
}

start().then(follow);
