// The pages' only script. The Content-Security-Policy allows no inline script and no eval,
// so behaviour that templates once wrote inline (hx-on, hx-trigger filters) lives here,
// driven by data attributes.

// htmx 2 does not swap 4xx/5xx responses: say so on the page instead of failing silently.
document.body.addEventListener("htmx:responseError", (event) => {
  const box = document.getElementById("htmx-error");
  if (!box) return;
  const status = event.detail.xhr.status;
  box.textContent =
    status === 403
      ? "You are not allowed to do that, or your session expired. Reload the page and sign in again."
      : "That did not work (" + status + "). Reload the page and try again.";
  box.hidden = false;
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
