// The capture table page: bulk actions on the selected rows, uploads with per-file progress,
// and the states of captures still being processed, refreshed without reloading the page.
import { api, base, csrfToken, errorText, say } from "./api.js";

const bulk = document.getElementById("bulk");
const project = bulk.dataset.project;
const status = document.getElementById("bulk-status");

function tableSection() {
  return document.getElementById("capture-table");
}

function picked() {
  return [...document.querySelectorAll("#captures input.pick:checked")].map((box) => box.value);
}

function updateSelection() {
  const count = picked().length;
  document.getElementById("selected-count").textContent =
    count === 0 ? "No capture selected" : `${count} selected`;
  document.getElementById("delete-selected").disabled = count === 0;
  document.getElementById("set-selected").disabled = count === 0;
  for (const box of document.querySelectorAll("#captures input.pick")) {
    box.closest("tr").classList.toggle("selected", box.checked);
  }
}

// The table is replaced by htmx (filters, sorting, pages): listen on the document.
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.id === "select-page") {
    for (const box of document.querySelectorAll("#captures input.pick")) box.checked = target.checked;
  }
  if (target.id === "select-page" || target.classList.contains("pick")) updateSelection();
});

document.body.addEventListener("htmx:afterSwap", () => {
  updateSelection();
  watchPending();
});

function refreshTable() {
  if (window.htmx) window.htmx.trigger(tableSection(), "refresh");
}

// A few requests at once: enough to overlap the round trips, not to flood the server.
async function eachAtMost(items, limit, work) {
  const queue = [...items];
  const runners = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length) await work(queue.shift());
  });
  await Promise.all(runners);
}

document.getElementById("delete-selected").addEventListener("click", async () => {
  const uuids = picked();
  const failures = [];
  say(status, `Deleting ${uuids.length}…`);
  await eachAtMost(uuids, 4, async (uuid) => {
    try {
      await api(`project/${project}/capture/${uuid}/`, { method: "DELETE" });
    } catch (error) {
      failures.push(error.message);
    }
  });
  const done = uuids.length - failures.length;
  say(
    status,
    failures.length
      ? `Deleted ${done}; ${failures.length} failed: ${failures[0]}`
      : `Deleted ${done} capture${done === 1 ? "" : "s"}.`,
    failures.length > 0,
  );
  refreshTable();
});

document.getElementById("set-selected").addEventListener("click", async () => {
  const key = document.getElementById("bulk-key").value.trim();
  const value = document.getElementById("bulk-value").value.trim();
  if (!key || !value) {
    say(status, "Enter a metadata key and a value first.", true);
    return;
  }
  const uuids = picked();
  try {
    const keys = await api(`project/${project}/metadata/`);
    if (!keys.some((existing) => existing.name === key)) {
      // A new key takes any value (not a dropdown), as the SDK's set_metadata does.
      await api(`project/${project}/metadata/`, {
        method: "POST",
        body: { name: key, is_dropdown: false },
      });
    }
    await api(`project/${project}/metadata-relationship/`, {
      method: "POST",
      body: uuids.map((capture) => ({ capture, label: key, label_value: value })),
    });
    say(status, `Set ${key} = ${value} on ${uuids.length} capture${uuids.length === 1 ? "" : "s"}.`);
    refreshTable();
  } catch (error) {
    say(status, error.message, true);
  }
});

// Uploads: each file is one multipart request (XMLHttpRequest: its upload progress events).
const list = document.getElementById("uploads");

function uploadOne(file) {
  const item = document.createElement("li");
  const name = document.createElement("span");
  name.textContent = file.name;
  const progress = document.createElement("progress");
  progress.max = file.size || 1;
  progress.value = 0;
  progress.setAttribute("aria-label", `Upload of ${file.name}`);
  const state = document.createElement("span");
  state.setAttribute("role", "status");
  state.textContent = "Waiting";
  item.append(name, progress, state);
  list.append(item);
  return () =>
    new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open("POST", `${base}/project/${project}/capture/`);
      request.setRequestHeader("X-CSRF-Token", csrfToken);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          progress.max = event.total;
          progress.value = event.loaded;
          state.textContent = `${Math.round((100 * event.loaded) / event.total)} %`;
        }
      });
      request.addEventListener("load", async () => {
        if (request.status >= 200 && request.status < 300) {
          progress.value = progress.max;
          state.textContent = "Uploaded";
          item.dataset.result = "uploaded";
        } else {
          const response = new Response(request.responseText, { status: request.status });
          say(state, `Failed: ${await errorText(response)}`, true);
          item.dataset.result = "failed";
        }
        resolve();
      });
      request.addEventListener("error", () => {
        say(state, "Failed: the connection to the server was lost; try again.", true);
        item.dataset.result = "failed";
        resolve();
      });
      state.textContent = "0 %";
      const form = new FormData();
      form.append("name", file.name);
      form.append("file", file, file.name);
      request.send(form);
    });
}

async function uploadAll(files) {
  const jobs = [...files].map(uploadOne);
  await eachAtMost(jobs, 3, async (job) => {
    await job();
  });
  refreshTable();
}

const input = document.getElementById("file-input");
input.addEventListener("change", () => {
  uploadAll(input.files);
  input.value = "";
});
const zone = document.getElementById("dropzone");
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  uploadAll(event.dataTransfer.files);
});

// Captures still SENT or STARTED: their rows are asked for again every two seconds.
let polling = null;

function setCell(row, field, text) {
  const cell = row.querySelector(`[data-field="${field}"]`);
  if (cell) cell.textContent = text;
}

async function pollPending() {
  const rows = [...document.querySelectorAll('#captures tr[data-state="SENT"], #captures tr[data-state="STARTED"]')];
  if (!rows.length) {
    polling = null;
    return;
  }
  await eachAtMost(rows, 4, async (row) => {
    try {
      const capture = await api(`project/${project}/capture/${row.dataset.uuid}/`);
      row.dataset.state = capture.task_state;
      const cell = row.querySelector('[data-field="state"]');
      cell.textContent = capture.task_state;
      cell.className = `state state-${capture.task_state}`;
      if (capture.task_result) cell.title = capture.task_result;
      if (capture.number_samples !== null) setCell(row, "samples", capture.number_samples.toLocaleString("en"));
      const rate = capture.set_sample_rate || capture.calculated_sample_rate;
      if (rate) setCell(row, "rate", String(Number(rate.toPrecision(6))));
      const channels = Object.keys(capture.schema).filter((n) => n !== "sequence");
      setCell(row, "channels", channels.length ? String(channels.length) : "");
      row.querySelector('[data-field="channels"]').title = channels.join(", ");
    } catch (_) {
      // deleted meanwhile, or the server is busy: the next round asks again
    }
  });
  polling = setTimeout(pollPending, 2000);
}

function watchPending() {
  if (polling === null) polling = setTimeout(pollPending, 1000);
}

updateSelection();
watchPending();

// "Make a version": an answer htmx does not swap (an expired session's 403, a project deleted
// meanwhile) or no answer at all still gets words under the form.
function versionFailed(event, text) {
  if (event.detail.elt.id !== "make-version") return;
  const outcome = document.getElementById("version-outcome");
  const line = document.createElement("p");
  line.className = "error";
  line.setAttribute("role", "alert");
  line.textContent = text;
  outcome.replaceChildren(line);
}

document.body.addEventListener("htmx:responseError", (event) => {
  const answer = event.detail.xhr;
  versionFailed(
    event,
    `The version was not made: the server answered ${answer.status} ${answer.statusText}` +
      " (reload the page, or log in again).",
  );
});

document.body.addEventListener("htmx:sendError", (event) => {
  versionFailed(event, "The version was not made: the server could not be reached.");
});
