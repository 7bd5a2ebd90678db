// The pages' only script. The Content-Security-Policy allows no inline script and no eval,
// so behaviour that templates once wrote inline (hx-on, hx-trigger filters) lives here,
// driven by data attributes.

// The error box under the header (templates/base.html): what went wrong, and a "Try again"
// button that sends the same request again when retrying can help.
let lastFailed = null;
let retrying = false; // the request in flight is the user's "Try again"

function showError(text, retryable) {
  const box = document.getElementById("htmx-error");
  if (!box) return;
  const message = document.getElementById("htmx-error-text");
  (message || box).textContent = text;
  const retry = document.getElementById("htmx-retry");
  if (retry) retry.hidden = !retryable;
  box.hidden = false;
  box.setAttribute("tabindex", "-1");
  box.focus();
}

function hideError() {
  const box = document.getElementById("htmx-error");
  if (box) box.hidden = true;
}

// htmx 2 does not swap 4xx/5xx responses: say so on the page instead of failing silently.
document.body.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  lastFailed = event.detail.requestConfig || null;
  showError(
    status === 403
      ? "You are not allowed to do that, or your session expired. Reload the page and sign in again."
      : "That did not work (" + status + "). Try again, or reload the page.",
    status >= 500,
  );
});

// No answer at all (offline, server away, timeout): tell the user and offer to try again.
function networkFailure(event) {
  lastFailed = event.detail.requestConfig || null;
  showError(
    "We could not reach the server: check your connection, then try again.",
    lastFailed !== null,
  );
}
document.body.addEventListener("htmx:sendError", networkFailure);
document.body.addEventListener("htmx:timeout", networkFailure);

document.addEventListener("click", (event) => {
  if (!event.target.closest("#htmx-retry") || !lastFailed) return;
  const config = lastFailed;
  lastFailed = null;
  hideError();
  retrying = true;
  const source = config.elt && config.elt.isConnected ? config.elt : document.body;
  htmx.ajax(config.verb.toUpperCase(), config.path, {
    source: source,
    target: config.target && config.target.isConnected ? config.target : undefined,
  });
});

document.body.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.successful) hideError();
});

// data-swap-errors="409 422" on a container: an answer with one of these statuses to a
// request from inside it is a partial meant to be shown (a refusal, a form with its errors),
// so htmx swaps it like a success.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const container = event.target.closest("[data-swap-errors]");
  if (!container) return;
  const statuses = container.dataset.swapErrors.split(/\s+/);
  if (statuses.includes(String(event.detail.xhr.status))) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// data-pause-while-editing on a polling element: skip a refresh while a form inside it is
// open or being typed in, so nothing the user is writing is swept away.
document.body.addEventListener("htmx:beforeRequest", (event) => {
  const element = event.detail.elt;
  if (
    element.matches("[data-pause-while-editing]") &&
    element.querySelector("details[open], input:focus, textarea:focus")
  ) {
    event.preventDefault();
  }
});

// After a swap the user asked for (a click, a submit; not a poll), move focus to the updated
// region: its message if it has one, else its heading, else the region itself, so a screen
// reader says what changed and the keyboard continues from there.
let swapTargetId = null;
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const config = event.detail.requestConfig;
  const userAction =
    retrying || (config && config.triggeringEvent && config.triggeringEvent.type !== "every");
  retrying = false;
  swapTargetId = userAction && event.detail.target ? event.detail.target.id || null : null;
});
document.body.addEventListener("htmx:afterSettle", () => {
  if (!swapTargetId) return;
  const region = document.getElementById(swapTargetId);
  swapTargetId = null;
  if (!region) return;
  const focus =
    region.querySelector("[role=alert], [role=status], .error") ||
    region.querySelector("h1, h2, h3") ||
    region;
  if (!focus.hasAttribute("tabindex") && !focus.matches("a, button, input, select, textarea")) {
    focus.setAttribute("tabindex", "-1");
  }
  focus.focus();
});

// Wide tables scroll inside their own container, never the page (phones at 390 px). The
// container is focusable and named so a keyboard user can scroll it too: by the table's
// caption, else after the heading of its section ("Integration syncs, table"), so that the
// several tables of one page (the merchant hub) are distinct landmarks.
function tableName(table) {
  const caption = table.querySelector("caption");
  if (caption) return caption.textContent.trim();
  const section = table.closest("[aria-labelledby]");
  const heading = section && document.getElementById(section.getAttribute("aria-labelledby"));
  return heading ? `${heading.textContent.trim()}, table` : "Table";
}
function wrapTables(root) {
  root.querySelectorAll("main table").forEach((table) => {
    if (table.parentElement.classList.contains("table-scroll")) return;
    const wrapper = document.createElement("div");
    wrapper.className = "table-scroll";
    wrapper.setAttribute("tabindex", "0");
    wrapper.setAttribute("role", "region");
    wrapper.setAttribute("aria-label", tableName(table));
    table.parentNode.insertBefore(wrapper, table);
    wrapper.appendChild(table);
  });
}
wrapTables(document);
document.body.addEventListener("htmx:afterSettle", () => wrapTables(document));

// The header's links fold behind "Menu" on a narrow screen.
document.querySelectorAll("[data-collapsible-nav]").forEach((nav) => {
  const toggle = nav.querySelector(".nav-toggle");
  if (!toggle) return;
  toggle.hidden = false;
  nav.classList.add("collapsed");
  toggle.setAttribute("aria-expanded", "false");
  toggle.addEventListener("click", () => {
    const open = nav.classList.toggle("collapsed") === false;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
});
