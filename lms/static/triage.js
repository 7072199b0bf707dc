// The triage queue: one suggested passage at a time; digits pick a theme, Enter accepts, X dismisses,
// U undoes the last decision, E opens the essay. Buttons do the same by touch. The scope (which
// suggestions) is the data-items URL the page was rendered with.
(function () {
  "use strict";
  const root = document.getElementById("triage");
  if (!root) return;
  const $ = (sel) => root.querySelector(sel);
  const items = [];
  const seen = new Set();
  const history = [];
  let chosen = 0;
  let busy = false;
  let accepted = 0;

  const url = (template, id) => template.replace(/\/0(\/|$)/, "/" + id + "$1");
  const say = (text) => { $(".triage-status").textContent = text; };

  async function call(method, target, body) {
    const response = await fetch(target, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((data.error && data.error.message) || "Không thực hiện được, vui lòng thử lại.");
    return data;
  }

  async function load() {
    const data = await call("GET", root.dataset.items);
    for (const item of data.items) {
      if (!seen.has(item.suggestion_id)) { seen.add(item.suggestion_id); items.push(item); }
    }
  }

  function show() {
    const item = items[0];
    root.dataset.current = item ? String(item.suggestion_id) : "";
    root.querySelectorAll("[data-action]").forEach((b) => { b.disabled = !item && b.dataset.action !== "undo"; });
    $(".triage-themes").textContent = "";
    if (!item) {
      ["before", "passage", "after", "unit", "topic"].forEach((k) => { $(".triage-" + k).textContent = ""; });
      $(".triage-count").textContent = "Đã xử lý hết các gợi ý";
      return;
    }
    $(".triage-count").textContent = "Còn " + items.length + " đoạn";
    $(".triage-unit").textContent = item.unit;
    $(".triage-topic").textContent = item.topic;
    $(".triage-before").textContent = item.before;
    $(".triage-passage").textContent = item.text;
    $(".triage-after").textContent = item.after;
    chosen = 0;
    item.themes.forEach((theme, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.dataset.index = String(i);
      button.textContent = (i + 1) + ". " + theme.name + " (" + Math.round(theme.score * 100) + " %)";
      button.addEventListener("click", () => pick(i));
      $(".triage-themes").appendChild(button);
    });
    pick(0);
  }

  function pick(i) {
    const item = items[0];
    if (!item || i >= item.themes.length) return;
    chosen = i;
    root.querySelectorAll(".triage-themes button").forEach((b) => {
      b.setAttribute("aria-pressed", b.dataset.index === String(i) ? "true" : "false");
    });
  }

  async function decide(action) {
    if (busy) return;
    const item = items[0];
    if (!item && action !== "undo") return;
    busy = true;
    try {
      if (action === "accept") {
        const tag = await call("POST", url(root.dataset.tags, item.essay_id), {
          start: item.start, end: item.end, kind: item.kind, version: item.version,
          themes: [item.themes[chosen].id] });
        history.push({ action, item, tagId: tag.id });
        items.shift();
        accepted += 1;
        say("Đã nhận: " + item.themes[chosen].name + ".");
      } else if (action === "dismiss") {
        await call("POST", url(root.dataset.dismiss, item.suggestion_id));
        history.push({ action, item });
        items.shift();
        say("Đã bỏ qua.");
      } else if (action === "undo") {
        const last = history.pop();
        if (!last) { say("Không có gì để hoàn tác."); return; }
        if (last.action === "accept") { await call("DELETE", url(root.dataset.tag, last.tagId)); accepted -= 1; }
        else await call("POST", url(root.dataset.reopen, last.item.suggestion_id));
        items.unshift(last.item);
        say("Đã hoàn tác.");
      }
      if (items.length < 3) await load();
      show();
    } catch (err) {
      say(err.message);
    } finally {
      busy = false;
      root.dataset.accepted = String(accepted);
    }
  }

  function open() {
    const item = items[0];
    if (item) window.location.assign(url(root.dataset.read, item.essay_id));
  }

  root.querySelectorAll("[data-action]").forEach((button) => {
    button.addEventListener("click", () => (button.dataset.action === "open" ? open() : decide(button.dataset.action)));
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const key = event.key;
    if (/^[1-9]$/.test(key)) { pick(Number(key) - 1); event.preventDefault(); }
    else if (key === "Enter") { decide("accept"); event.preventDefault(); }
    else if (key === "x" || key === "X") decide("dismiss");
    else if (key === "u" || key === "U") decide("undo");
    else if (key === "e" || key === "E") open();
  });
  load().then(show).catch((err) => say(err.message));
})();
