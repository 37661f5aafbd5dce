// Calls to the REST API from the pages: the browser sends the session cookie, and every
// state-changing request carries the page's CSRF token (the server refuses it otherwise).

const csrfMeta = document.querySelector('meta[name="csrf-token"]');
export const csrfToken = csrfMeta ? csrfMeta.content : "";
export const base = document.body.dataset.base || "";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// The error's words for a person: the server's `detail` (one error shape for every route).
export async function errorText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch (_) {
    // not JSON: fall through
  }
  return `The server answered ${response.status} ${response.statusText}.`;
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${base}/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
  if (!response.ok) throw new ApiError(await errorText(response), response.status);
  if (response.status === 204) return null;
  return response.json();
}

// A message in a status region (role="status" or "alert" in the template), as text.
export function say(element, text, isError = false) {
  if (!element) return;
  element.textContent = text;
  element.classList.toggle("error", isError);
}
