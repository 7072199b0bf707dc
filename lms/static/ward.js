// The ward's queue: accept, dismiss, undo and edit the span of suggested passages, by keyboard or touch.
// Offsets count code points (as the server does), so the line is handled as an array of code points.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("ward-queue");
  if (!root) return;
  const status = root.querySelector(".ward-status");
  const undoStack = [];
  let current = 0;

  const items = () => Array.from(root.querySelectorAll(".ward-item:not(.done)"));
  const say = (text) => { status.textContent = text; };

  function focusItem(index) {
    const list = items();
    if (!list.length) { say("Không còn gợi ý nào cần xem."); return; }
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach((el, i) => el.classList.toggle("current", i === current));
    list[current].focus({ preventScroll: false });
  }

  async function post(url, form) {
    const body = new FormData(form || undefined);
    if (!form) body.append("csrf_token", root.dataset.csrf);
    const response = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" },
                                         credentials: "same-origin" });
    let answer = { ok: false, message: "Lỗi máy chủ, vui lòng thử lại." };
    try { answer = await response.json(); } catch (e) { /* not JSON: keep the message above */ }
    return answer;
  }

  async function decide(item, kind) {
    if (!item || item.classList.contains("busy")) return;
    item.classList.add("busy");
    const form = item.querySelector("form.decide");
    const url = kind === "accept" ? item.dataset.action : item.dataset.dismiss;
    const answer = await post(url, form);
    item.classList.remove("busy");
    if (!answer.ok) { say(answer.message); return; }
    item.classList.add("done");
    undoStack.push(item);
    undoButton.hidden = false;
    focusItem(current);
    const done = items().length ? "" : " Không còn gợi ý nào cần xem.";
    say(answer.message + done + " Nhấn U (hoặc nút Hoàn tác) để hoàn tác.");
  }

  async function undo() {
    const item = undoStack.pop();
    if (!item) { say("Không có thao tác nào để hoàn tác."); return; }
    const answer = await post(item.dataset.undo, null);
    if (!answer.ok) { say(answer.message); undoStack.push(item); return; }
    item.classList.remove("done");
    undoButton.hidden = undoStack.length === 0;
    say(answer.message);
    focusItem(items().indexOf(item));
  }

  function moveSpan(item, which, step) {
    const line = Array.from(item.querySelector(".passage").dataset.line);
    const base = Number(item.dataset.lineStart);
    let start = Number(item.dataset.start) - base;
    let end = Number(item.dataset.end) - base;
    const isSpace = (c) => /\s/.test(c);
    if (which === "start" && step > 0) {            // drop the first word
      let i = start; while (i < end && !isSpace(line[i])) i++; while (i < end && isSpace(line[i])) i++;
      if (i < end) start = i;
    } else if (which === "start") {                 // take the word before
      let i = start; while (i > 0 && isSpace(line[i - 1])) i--; while (i > 0 && !isSpace(line[i - 1])) i--;
      start = i;
    } else if (step < 0) {                          // drop the last word
      let i = end; while (i > start && !isSpace(line[i - 1])) i--; while (i > start && isSpace(line[i - 1])) i--;
      if (i > start) end = i;
    } else {                                        // take the word after
      let i = end; while (i < line.length && isSpace(line[i])) i++; while (i < line.length && !isSpace(line[i])) i++;
      end = i;
    }
    item.dataset.start = String(base + start);
    item.dataset.end = String(base + end);
    item.querySelector("input[name=start]").value = item.dataset.start;
    item.querySelector("input[name=end]").value = item.dataset.end;
    item.querySelector(".passage").textContent = line.slice(start, end).join("");
  }

  const undoButton = document.createElement("button");
  undoButton.type = "button";
  undoButton.className = "button undo";
  undoButton.textContent = "Hoàn tác";
  undoButton.hidden = true;
  undoButton.addEventListener("click", undo);
  status.after(undoButton);

  root.addEventListener("click", (event) => {
    const item = event.target.closest(".ward-item");
    if (!item) return;
    current = Math.max(0, items().indexOf(item));
    if (event.target.matches("button.accept, button.dismiss")) {
      event.preventDefault();
      decide(item, event.target.matches(".accept") ? "accept" : "dismiss");
    } else if (event.target.matches("button.edit")) {
      const box = item.querySelector(".span-edit");
      box.hidden = !box.hidden;
    } else if (event.target.dataset.move) {
      const [which, step] = event.target.dataset.move.split(":");
      moveSpan(item, which, Number(step));
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, button, a")) return;
    const item = items()[current];
    const key = event.key.toLowerCase();
    if (key === "j" || key === "arrowdown") { focusItem(current + 1); }
    else if (key === "k" || key === "arrowup") { focusItem(current - 1); }
    else if (key === "enter") { decide(item, "accept"); }
    else if (key === "x") { decide(item, "dismiss"); }
    else if (key === "u") { undo(); }
    else if (key === "e" && item) { const box = item.querySelector(".span-edit"); box.hidden = !box.hidden; }
    else if ((key === "arrowleft" || key === "arrowright") && item && !item.querySelector(".span-edit").hidden) {
      // With the span editor open: arrows move the end by a word, Shift+arrows the start.
      const which = event.shiftKey ? "start" : "end";
      moveSpan(item, which, key === "arrowright" ? 1 : -1);
    }
    else return;
    event.preventDefault();
  });

  if (items().length) focusItem(0);
});
