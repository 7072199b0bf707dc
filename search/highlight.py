"""HTML snippets that mark the original (accented) words matching a query."""

from __future__ import annotations

import unicodedata
from html import escape

from search.analysis import syllables
from search.query import ParsedQuery, parse_query

# Syllables shown around the best match.
WINDOW = 32
_LEAD = 6


def _matches(parsed: ParsedQuery, folded: list[str]) -> list[bool]:
    return [f in parsed.terms or any(f.startswith(p) for p in parsed.prefixes) for f in folded]


def _phrase_starts(parsed: ParsedQuery, folded: list[str]) -> set[int]:
    starts = set()
    for seq in parsed.sequences:
        n = len(seq)
        for i in range(len(folded) - n + 1):
            if tuple(folded[i : i + n]) == seq:
                starts.add(i)
    return starts


def _mark_range(text: str, toks: list, flags: list[bool], start: int, end: int, cursor: int,
                parts: list[str]) -> int:
    """Append text[cursor:] up to the last hit among toks[start:end], escaped, hits in <mark>; return the new cursor."""
    j = start
    while j < end:
        if not flags[j]:
            j += 1
            continue
        # Merge neighbouring hits ("chuyển đổi số") into one mark when only spaces part them.
        k = j
        while k + 1 < end and flags[k + 1] and text[toks[k][3] : toks[k + 1][2]].isspace():
            k += 1
        parts.append(escape(text[cursor : toks[j][2]]))
        parts.append("<mark>" + escape(text[toks[j][2] : toks[k][3]]) + "</mark>")
        cursor = toks[k][3]
        j = k + 1
    return cursor


def make_snippet(text: str, parsed: ParsedQuery, window: int = WINDOW) -> str:
    """Return an HTML-escaped excerpt of text with <mark> around matching words."""
    text = unicodedata.normalize("NFC", text or "")
    toks = syllables(text)
    if not toks:
        return escape(text[:200])
    folded = [f for _, f, _, _ in toks]
    flags = _matches(parsed, folded)
    phrase_starts = _phrase_starts(parsed, folded)
    hits = [i for i, hit in enumerate(flags) if hit]

    best, best_score = 0, -1
    for i in hits:
        start = max(0, i - _LEAD)
        end = min(len(toks), start + window)
        distinct = {folded[j] for j in range(start, end) if flags[j]}
        phrases = sum(1 for j in range(start, end) if j in phrase_starts)
        score = 100 * phrases + 10 * len(distinct) + sum(flags[start:end])
        if score > best_score:
            best, best_score = start, score
    end = min(len(toks), best + window)

    parts = ["…" if best > 0 else ""]
    cursor = _mark_range(text, toks, flags, best, end, 0 if best == 0 else toks[best][2], parts)
    if end < len(toks):
        parts.append(escape(text[cursor : toks[end - 1][3]]) + "…")
    else:
        parts.append(escape(text[cursor:].rstrip()))
    return "".join(parts).strip()


def highlight_all(text: str, query: str) -> str:
    """The whole text, HTML-escaped, with <mark> around every run of words matching the query."""
    text = unicodedata.normalize("NFC", text or "")
    parsed = parse_query(query or "")
    toks = syllables(text)
    if not toks or parsed.loose is None:
        return escape(text)
    flags = _matches(parsed, [f for _, f, _, _ in toks])
    parts: list[str] = []
    cursor = _mark_range(text, toks, flags, 0, len(toks), 0, parts)
    parts.append(escape(text[cursor:]))
    return "".join(parts)
