// Behaviour shared by every page; kept in a file so the Content-Security-Policy forbids inline script.
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // Buttons that ask before doing something irreversible: <button data-confirm="…">.
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });

  // Wide tables scroll inside their own box (first column fixed by CSS), never the page: wrap any
  // table not already wrapped, and make each box reachable by keyboard when it scrolls.
  document.querySelectorAll("table.table:not(.stack):not(.pairs)").forEach((table) => {
    if (table.closest(".table-wrap")) return;
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    table.parentNode.insertBefore(wrap, table);
    wrap.appendChild(table);
  });
  document.querySelectorAll(".table-wrap").forEach((wrap) => {
    if (wrap.scrollWidth > wrap.clientWidth + 1 && !wrap.hasAttribute("tabindex")) {
      const table = wrap.querySelector("table");
      const heading = table && (table.caption || table.closest("section, .card, main").querySelector("h1, h2, h3"));
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", (heading ? heading.textContent.trim() + " — " : "") + "bảng, vuốt ngang để xem thêm");
    }
  });

  // The menu button of a phone (hidden on a desktop by CSS; without JavaScript the menu stays open).
  const menuButton = document.querySelector(".menu-button");
  const menuPanel = document.getElementById("menu-panel");
  if (menuButton && menuPanel) {
    menuButton.hidden = false;
    menuButton.addEventListener("click", () => {
      const open = menuPanel.classList.toggle("open");
      menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menuPanel.classList.contains("open")) {
        menuPanel.classList.remove("open");
        menuButton.setAttribute("aria-expanded", "false");
        menuButton.focus();
      }
    });
  }

  // "Sao chép" buttons: <button data-copy="text">; says in words whether it worked.
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.hidden = false;
    const status = button.parentElement.querySelector(".copy-status");
    button.addEventListener("click", () => {
      const say = (text) => { if (status) status.textContent = text; };
      const fallback = () => {
        const area = document.createElement("textarea");
        area.value = button.dataset.copy;
        area.setAttribute("readonly", "");
        area.className = "visually-hidden";
        document.body.appendChild(area);
        area.select();
        let ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        area.remove();
        say(ok ? "Đã sao chép." : "Không sao chép được, hãy chọn và sao chép mã đầy đủ bên dưới.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(button.dataset.copy).then(() => say("Đã sao chép."), fallback);
      } else {
        fallback();
      }
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
