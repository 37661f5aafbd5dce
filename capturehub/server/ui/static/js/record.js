// The Record page: this device's motion sensors (DeviceMotionEvent) streamed into a new
// capture over the recording's WebSocket (docs/recording.md). Readings are grouped into a
// batch every BATCH_MS; at most the server's window of batches waits for its ack; a broken
// connection is opened again and the batches the server did not store are sent again, so the
// capture holds every reading once, in order. Stopping flushes, stops the recording and, when a
// label value is given, puts one segment over the whole capture once it is processed.
import { api, base, csrfToken, say } from "./api.js";

const BATCH_MS = 200;
const MAX_ROWS = 500; // rows per batch: a stalled network does not make one huge frame
const FIRST_READING_MS = 3000;

const form = document.getElementById("record-form");
const startButton = document.getElementById("record-start");
const stopButton = document.getElementById("record-stop");
const statusLine = document.getElementById("record-status");
const figures = {
  state: document.getElementById("record-state"),
  rate: document.getElementById("record-rate"),
  sent: document.getElementById("record-sent"),
  stored: document.getElementById("record-stored"),
  acks: document.getElementById("record-acks"),
};

const rec = {
  project: null,
  capture: null,
  sensors: [],
  socket: null,
  ready: false, // the socket said hello
  window: 1,
  nextSeq: 1,
  rows: [], // readings not in a batch yet
  outbox: [], // batches formed, not sent: {seq, text, rows}
  unacked: new Map(), // seq -> batch, sent and not acknowledged
  sent: 0,
  stored: 0,
  acks: 0,
  bad: 0,
  skipped: 0,
  finished: false,
  timer: null,
  rateWindow: [], // times of recent readings, for the rate shown
};

function show() {
  figures.sent.textContent = rec.sent.toLocaleString("en");
  figures.stored.textContent = rec.stored.toLocaleString("en");
  figures.acks.textContent = rec.acks.toLocaleString("en");
  const times = rec.rateWindow;
  if (times.length > 1) {
    const hz = ((times.length - 1) * 1000) / (times[times.length - 1] - times[0]);
    figures.rate.textContent = `${hz.toFixed(1)} Hz`;
  }
}

function setState(text) {
  figures.state.textContent = text;
}

// ---------------------------------------------------------------- readings

function selectedSensors() {
  return [...form.querySelectorAll('input[name="sensor"]:checked')].map((box) => ({
    key: box.value,
    channels: box.dataset.channels.split(","),
    units: box.dataset.units,
  }));
}

function valuesOf(event, key) {
  const reading = event[key];
  if (!reading) return [null, null, null];
  if (key === "rotationRate") return [reading.alpha, reading.beta, reading.gamma];
  return [reading.x, reading.y, reading.z];
}

function onMotion(event) {
  const row = rec.sensors.flatMap((sensor) => valuesOf(event, sensor.key));
  // A sensor the device lacks reports null: such a reading is left out (and counted), since
  // a capture's rows are numbers.
  if (row.some((value) => value === null || value === undefined)) {
    rec.skipped += 1;
    return;
  }
  rec.rows.push(row);
  rec.sent += 1;
  rec.rateWindow.push(performance.now());
  if (rec.rateWindow.length > 120) rec.rateWindow.shift();
}

function firstReading() {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      window.removeEventListener("devicemotion", once);
      reject(new Error("This device reports no motion readings (no sensors, or blocked)."));
    }, FIRST_READING_MS);
    function once(event) {
      clearTimeout(timer);
      window.removeEventListener("devicemotion", once);
      resolve(event);
    }
    window.addEventListener("devicemotion", once);
  });
}

// ---------------------------------------------------------------- the socket

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = `${base}/project/${rec.project}/recordings/${rec.capture}/stream`;
  return `${scheme}//${location.host}${path}?csrf_token=${encodeURIComponent(csrfToken)}`;
}

function connect() {
  rec.ready = false;
  const socket = new WebSocket(socketUrl());
  rec.socket = socket;
  socket.addEventListener("message", (event) => onMessage(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    if (rec.socket !== socket) return;
    rec.socket = null;
    rec.ready = false;
    if (event.code >= 4000) {
      fail(event.reason || `The server closed the stream (${event.code}).`);
    } else if (!rec.finished) {
      setState("reconnecting");
      setTimeout(connect, 1000);
    }
  });
}

function onMessage(message) {
  if ("hello" in message) {
    rec.window = message.window;
    const last = message.last_seq;
    // Batches the server stored before the connection broke: their acks were lost.
    for (const seq of [...rec.unacked.keys()]) {
      if (last !== null && seq <= last) rec.unacked.delete(seq);
    }
    rec.stored = message.samples;
    rec.ready = true;
    if (!rec.finished) setState("recording");
    for (const batch of rec.unacked.values()) rec.socket.send(batch.text);
    pump();
  } else if ("ack" in message) {
    rec.unacked.delete(message.ack);
    rec.stored = message.samples;
    rec.acks += 1;
    pump();
  } else if ("bad" in message) {
    rec.unacked.delete(message.bad);
    rec.bad += 1;
    say(statusLine, `A batch was refused: ${message.message}`, true);
  } else if ("refused" in message) {
    // Only a client that lost count of its window is refused: start again from the hello.
    rec.socket?.close();
  } else if ("error" in message) {
    fail(message.error);
  }
  show();
}

function formBatch() {
  if (rec.rows.length === 0) return;
  const rows = rec.rows.splice(0, MAX_ROWS);
  const seq = rec.nextSeq++;
  rec.outbox.push({ seq, rows, text: JSON.stringify({ seq, values: rows }) });
}

function pump() {
  while (rec.ready && rec.outbox.length && rec.unacked.size < rec.window) {
    const batch = rec.outbox.shift();
    rec.unacked.set(batch.seq, batch);
    rec.socket.send(batch.text);
  }
}

function tick() {
  while (rec.rows.length) formBatch();
  pump();
  show();
}

// ---------------------------------------------------------------- start and stop

async function askPermission() {
  // iOS asks the person, and only from a tap: this runs in the click's handler.
  if (typeof DeviceMotionEvent !== "undefined" && DeviceMotionEvent.requestPermission) {
    const answer = await DeviceMotionEvent.requestPermission();
    if (answer !== "granted") throw new Error("Motion sensors were not allowed.");
  }
}

async function start(event) {
  event.preventDefault();
  say(statusLine, "");
  rec.sensors = selectedSensors();
  if (rec.sensors.length === 0) {
    say(statusLine, "Pick at least one sensor.", true);
    return;
  }
  if (!window.isSecureContext || typeof DeviceMotionEvent === "undefined") {
    say(statusLine, "Motion sensors need a secure page (https://).", true);
    return;
  }
  startButton.disabled = true;
  try {
    await askPermission();
    setState("starting");
    const first = await firstReading();
    const rate = first.interval > 0 ? Math.round(1e6 / first.interval) / 1e3 : 60;
    rec.project = document.getElementById("record-project").value;
    const status = await api(`project/${rec.project}/recordings/`, {
      method: "POST",
      body: {
        name: document.getElementById("record-name").value.trim(),
        sample_rate: rate,
        channels: rec.sensors.flatMap((sensor) =>
          sensor.channels.map((name) => ({ name, units: sensor.units })),
        ),
      },
    });
    rec.capture = status.uuid;
    window.addEventListener("devicemotion", onMotion);
    connect();
    rec.timer = setInterval(tick, BATCH_MS);
    stopButton.disabled = false;
    for (const field of form.querySelectorAll("input, select")) field.disabled = true;
    const link = document.getElementById("record-link");
    link.querySelector("a").href = `${base}/projects/${rec.project}/captures/${rec.capture}/`;
    link.hidden = false;
  } catch (error) {
    startButton.disabled = false;
    setState("idle");
    say(statusLine, error.message, true);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, seconds, what) {
  const deadline = performance.now() + seconds * 1000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what} took over ${seconds} s.`);
    await sleep(100);
  }
}

async function stop() {
  stopButton.disabled = true;
  window.removeEventListener("devicemotion", onMotion);
  setState("stopping");
  try {
    tick();
    await until(() => !rec.outbox.length && !rec.unacked.size, 60, "Storing the last readings");
    rec.finished = true;
    clearInterval(rec.timer);
    rec.socket?.close(1000);
    const capturePath = `project/${rec.project}/recordings/${rec.capture}`;
    await api(`${capturePath}/stop/`, { method: "POST" });
    show();
    const value = document.getElementById("record-label-value").value.trim();
    if (value) {
      setState("labelling");
      await label(document.getElementById("record-label-name").value.trim() || "Label", value);
    }
    setState("stopped");
    say(statusLine, `Recorded ${rec.stored.toLocaleString("en")} samples.`);
  } catch (error) {
    fail(error.message);
  }
}

// The label value's uuid (and its label's), created when the project lacks it.
async function labelValue(name, value) {
  const find = async () => {
    const labels = await api(`project/${rec.project}/label/`);
    const found = labels.find((l) => l.name === name);
    return [found, found?.label_values.find((v) => v.value === value)];
  };
  let [found, known] = await find();
  if (!known) {
    if (found) {
      await api(`project/${rec.project}/label/${found.uuid}/labelvalue/`, {
        method: "POST",
        body: { value },
      });
    } else {
      await api(`project/${rec.project}/label/`, { method: "POST", body: { name, values: [value] } });
    }
    [found, known] = await find();
  }
  return { label: found.uuid, labelValue: known.uuid };
}

async function label(name, value) {
  const ids = await labelValue(name, value);
  // A segment's bounds are checked against the processed capture: wait for it.
  const capturePath = `project/${rec.project}/capture/${rec.capture}`;
  let capture = null;
  const deadline = performance.now() + 120000;
  for (;;) {
    capture = await api(`${capturePath}/`);
    if (capture.task_state === "SUCCESS") break;
    if (capture.task_state === "FAILURE") throw new Error(`Processing failed: ${capture.task_result}`);
    if (performance.now() > deadline) throw new Error("The capture was not processed in 2 minutes.");
    await sleep(500);
  }
  if (capture.max_sequence < 1) return; // a segment covers at least two samples
  await api(`${capturePath}/label-relationship/`, {
    method: "POST",
    body: {
      label: ids.label,
      label_value: ids.labelValue,
      capture_sample_sequence_start: 0,
      capture_sample_sequence_end: capture.max_sequence,
    },
  });
}

function fail(text) {
  rec.finished = true;
  clearInterval(rec.timer);
  window.removeEventListener("devicemotion", onMotion);
  setState("failed");
  say(statusLine, text, true);
}

if (form) {
  const now = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  document.getElementById("record-name").value = `phone-${now}`;
  form.addEventListener("submit", start);
  stopButton.addEventListener("click", stop);
}
