// Reading view: map the reader's text selection to code-point offsets of the stored NFC text and
// create a tag through the API. Every piece of essay text is rendered alone in a .seg element
// whose data-offset is its start in code points; JS strings count UTF-16 units, so lengths
// inside a piece are converted with codePoints() (an emoji is 2 units but 1 code point).
(() => {
  "use strict";

  const codePoints = (s) => { let n = 0; for (const _ of s) n += 1; return n; };

  function segEnd(seg) {
    return Number(seg.dataset.offset) + codePoints(seg.textContent);
  }

  // A DOM boundary point (node, offset) → code-point offset in the essay text.
  function pointToOffset(root, node, offset) {
    if (node.nodeType === Node.TEXT_NODE) {
      const seg = node.parentElement && node.parentElement.closest(".seg");
      if (seg && root.contains(seg)) {
        return Number(seg.dataset.offset) + codePoints(node.data.slice(0, offset));
      }
    }
    // The point sits between elements (or in a non-text node): take the first piece after it.
    const segs = root.querySelectorAll(".seg");
    const range = document.createRange();
    for (const seg of segs) {
      range.selectNodeContents(seg);
      const where = range.comparePoint(node, offset);
      if (where < 0) return Number(seg.dataset.offset);
      if (where === 0) return offset > 0 ? segEnd(seg) : Number(seg.dataset.offset);
    }
    return segs.length ? segEnd(segs[segs.length - 1]) : 0;
  }

  function selectionSpan(root) {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    if (!root.contains(range.commonAncestorContainer) && range.commonAncestorContainer !== root) return null;
    const start = pointToOffset(root, range.startContainer, range.startOffset);
    const end = pointToOffset(root, range.endContainer, range.endOffset);
    if (!(end > start)) return null;
    return { start, end, text: sel.toString() };
  }

  function init() {
    const root = document.getElementById("essay-text");
    const button = document.getElementById("tag-button");
    if (!root || !button) return;
    const preview = document.getElementById("selected-preview");
    const errorBox = document.getElementById("tag-error");
    let chosen = null;

    // Remember the last selection inside the essay: on a tablet, touching the button clears it.
    document.addEventListener("selectionchange", () => {
      const span = selectionSpan(root);
      if (span) {
        chosen = span;
        preview.textContent = "“" + span.text.trim() + "”";
        button.disabled = false;
      }
    });

    async function tagSelection() {
      errorBox.textContent = "";
      const span = selectionSpan(root) || chosen;
      if (!span) { errorBox.textContent = "Hãy bôi đen một đoạn trong bài trước."; return; }
      const themes = Array.from(document.querySelectorAll("input[name=new-theme]:checked")).map((el) => Number(el.value));
      if (themes.length === 0) { errorBox.textContent = "Chọn ít nhất một chủ đề."; return; }
      const kind = (document.querySelector("input[name=new-kind]:checked") || {}).value;
      const note = document.getElementById("new-note").value;
      button.disabled = true;
      try {
        const response = await fetch(root.dataset.api, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
          body: JSON.stringify({ start: span.start, end: span.end, kind, themes, note,
                                 version: Number(root.dataset.version) }),
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) {
          errorBox.textContent = (body.error && body.error.message) || "Không gắn được thẻ, vui lòng thử lại.";
          button.disabled = false;
          return;
        }
        window.location.assign(window.location.pathname + window.location.search + "#tag-" + body.id);
        window.location.reload();
      } catch (err) {
        errorBox.textContent = "Mất kết nối, vui lòng thử lại.";
        button.disabled = false;
      }
    }

    button.addEventListener("click", tagSelection);
    document.addEventListener("keydown", (event) => {
      if (event.key !== "t" && event.key !== "T") return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      if (!selectionSpan(root) && !chosen) return;
      event.preventDefault();
      tagSelection();
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
