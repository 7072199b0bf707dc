// The one date-time input: <input data-datetime> holds "dd/mm/yyyy HH:MM" (Vietnam time). The browser's
// own datetime-local picker shows mm/dd/yyyy in an English browser, so this small picker writes the
// format itself, whatever the browser's language. Typing stays possible; the server reads both.
(function () {
  "use strict";
  const MONTHS = ["Tháng 1", "Tháng 2", "Tháng 3", "Tháng 4", "Tháng 5", "Tháng 6", "Tháng 7", "Tháng 8",
                  "Tháng 9", "Tháng 10", "Tháng 11", "Tháng 12"];
  const DAYS = ["T2", "T3", "T4", "T5", "T6", "T7", "CN"];
  const pad = (n) => String(n).padStart(2, "0");
  const format = (d, h, m) => `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()} ${pad(h)}:${pad(m)}`;

  function parse(text) {
    const m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ ,T]+(\d{1,2})[:hg.](\d{2}))?$/.exec(text.trim());
    if (!m) return null;
    return { date: new Date(+m[3], +m[2] - 1, +m[1]), hour: +(m[4] || 17), minute: +(m[5] || 0) };
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function timeSelect(label, count, step, value) {
    const select = el("select", { "aria-label": label });
    for (let i = 0; i < count; i += step) {
      const option = el("option", { value: String(i) }, pad(i));
      if (i === value) option.selected = true;
      select.appendChild(option);
    }
    return select;
  }

  function attach(input) {
    const button = el("button", { type: "button", class: "button small", "aria-expanded": "false" }, "Chọn ngày giờ");
    const wrap = el("div", { class: "dt-input" });
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    wrap.appendChild(button);
    let panel = null;

    function close() {
      if (panel) { panel.remove(); panel = null; }
      button.setAttribute("aria-expanded", "false");
    }

    function open() {
      const parsed = parse(input.value);
      const now = new Date();
      let shown = parsed ? parsed.date : new Date(now.getFullYear(), now.getMonth(), now.getDate());
      let chosen = parsed ? parsed.date : null;
      const hour = timeSelect("Giờ", 24, 1, parsed ? parsed.hour : 17);
      const minute = timeSelect("Phút", 60, 5, parsed ? parsed.minute - (parsed.minute % 5) : 0);
      panel = el("div", { class: "dt-picker", role: "dialog", "aria-label": "Chọn ngày giờ" });
      const head = el("div", { class: "dt-head" });
      const prev = el("button", { type: "button", class: "button small", "aria-label": "Tháng trước" }, "‹");
      const next = el("button", { type: "button", class: "button small", "aria-label": "Tháng sau" }, "›");
      const title = el("strong", { "aria-live": "polite" });
      head.append(prev, title, next);
      const table = el("table");
      const thead = el("thead");
      const row = el("tr");
      DAYS.forEach((d) => row.appendChild(el("th", { scope: "col" }, d)));
      thead.appendChild(row);
      const tbody = el("tbody");
      table.append(thead, tbody);
      const time = el("div", { class: "dt-time" });
      const done = el("button", { type: "button", class: "button small primary" }, "Xong");
      time.append(el("span", {}, "Giờ:"), hour, el("span", {}, ":"), minute, done);
      panel.append(head, table, time);
      wrap.insertAdjacentElement("afterend", panel);

      function write() {
        if (chosen) input.value = format(chosen, +hour.value, +minute.value);
      }

      function render() {
        title.textContent = `${MONTHS[shown.getMonth()]} / ${shown.getFullYear()}`;
        tbody.textContent = "";
        const first = new Date(shown.getFullYear(), shown.getMonth(), 1);
        const offset = (first.getDay() + 6) % 7; // Monday first
        const days = new Date(shown.getFullYear(), shown.getMonth() + 1, 0).getDate();
        let tr = el("tr");
        for (let i = 0; i < offset; i += 1) tr.appendChild(el("td"));
        for (let d = 1; d <= days; d += 1) {
          const date = new Date(shown.getFullYear(), shown.getMonth(), d);
          const pressed = chosen && date.getTime() === chosen.getTime();
          const cell = el("td");
          const b = el("button", { type: "button", "aria-pressed": pressed ? "true" : "false",
                                   "aria-label": `${pad(d)}/${pad(date.getMonth() + 1)}/${date.getFullYear()}` }, String(d));
          b.addEventListener("click", () => { chosen = date; write(); render(); });
          cell.appendChild(b);
          tr.appendChild(cell);
          if ((offset + d) % 7 === 0) { tbody.appendChild(tr); tr = el("tr"); }
        }
        if (tr.children.length) tbody.appendChild(tr);
      }

      prev.addEventListener("click", () => { shown = new Date(shown.getFullYear(), shown.getMonth() - 1, 1); render(); });
      next.addEventListener("click", () => { shown = new Date(shown.getFullYear(), shown.getMonth() + 1, 1); render(); });
      hour.addEventListener("change", write);
      minute.addEventListener("change", write);
      done.addEventListener("click", () => { write(); close(); input.focus(); });
      panel.addEventListener("keydown", (event) => { if (event.key === "Escape") { close(); button.focus(); } });
      render();
      button.setAttribute("aria-expanded", "true");
    }

    button.addEventListener("click", () => (panel ? close() : open()));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-datetime]").forEach(attach);
  });
})();
