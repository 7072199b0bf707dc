// Behaviour shared by every page; kept in a file so the Content-Security-Policy forbids inline script.
document.addEventListener("DOMContentLoaded", () => {
  // Buttons that ask before doing something irreversible: <button data-confirm="…">.
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
});
