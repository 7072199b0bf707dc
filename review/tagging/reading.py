"""The essay text as HTML for the reading view: paragraphs of spans carrying code-point offsets."""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Highlight:
    """A span to mark in the text: [start, end) code points, an id, a CSS class and a label."""

    start: int
    end: int
    ref: str
    css: str
    label: str


def render_text(text: str, highlights: list[Highlight]) -> Markup:
    """<p class="para"> per line; every piece of text sits alone in a .seg element with data-offset.

    The reading view's script maps a DOM selection back to offsets from these attributes, so no
    other text (not even whitespace between tags) may be emitted inside the container.
    """
    out: list[str] = []
    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        cuts = {start, end}
        for h in highlights:
            if h.start < end and h.end > start:
                cuts.add(max(h.start, start))
                cuts.add(min(h.end, end))
        points = sorted(cuts)
        pieces: list[str] = []
        for a, b in zip(points, points[1:]):
            if a >= b:
                continue
            covering = [h for h in highlights if h.start <= a and h.end >= b]
            piece = escape(text[a:b])
            if covering:
                refs = " ".join(h.ref for h in covering)
                css = " ".join(sorted({h.css for h in covering}))
                ends = [h for h in covering if h.end == b]
                label = " · ".join(h.label for h in ends)
                extra = f' data-label="{escape(label)}"' if label else ""
                pieces.append(f'<mark class="seg hl {css}{" hl-end" if ends else ""}" data-offset="{a}" '
                              f'data-refs="{refs}"{extra}>{piece}</mark>')
            else:
                pieces.append(f'<span class="seg" data-offset="{a}">{piece}</span>')
        out.append(f'<p class="para" data-offset="{start}">{"".join(pieces)}</p>')
        pos = end + 1
    return Markup("".join(out))
