// Behaviour shared by every page; kept in a file so the Content-Security-Policy forbids inline script.
document.addEventListener("DOMContentLoaded", () => {
  // Buttons that ask before doing something irreversible: <button data-confirm="…">.
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
  // Upload forms whose photos are read by OCR: say "đang nhận dạng" until the answer comes.
  document.querySelectorAll("form[data-ocr-busy]").forEach((form) => {
    form.addEventListener("submit", () => {
      const files = Array.from(form.querySelectorAll("input[type=file]")).flatMap((i) => Array.from(i.files || []));
      if (!files.some((f) => /\.(jpe?g|png|heic|heif|pdf)$/i.test(f.name))) return;
      const busy = document.getElementById(form.dataset.ocrBusy);
      if (busy) busy.hidden = false;
      form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
    });
  });
});
