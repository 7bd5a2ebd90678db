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
