"""HTML snippets that mark the original (accented) words matching a query."""

from __future__ import annotations

import unicodedata
from html import escape

from search.analysis import syllables
from search.query import ParsedQuery, Word, parse_query

# Syllables shown around the best match.
WINDOW = 32
_LEAD = 6


def _occurrences(seq: tuple[Word, ...], forms: list[tuple[str, str]]) -> list[int]:
    """Start indexes where the sequence of words occurs in a row."""
    n = len(seq)
    return [
        i
        for i in range(len(forms) - n + 1)
        if all(forms[i + k][kind] == token for k, (kind, token) in enumerate(seq))
    ]


def _flags(parsed: ParsedQuery, forms: list[tuple[str, str]]) -> tuple[list[bool], set[int]]:
    """Which syllables matched the query as typed, and where a phrase or run starts.

    A quoted phrase is marked only where its words stand in a row; a run where it stands in a
    row, or word by word when the text never holds it in a row (the essay matched on its words).
    """
    flags = [
        any(form[kind] == token for kind, token in parsed.words)
        or any(form[kind].startswith(p) for kind, p in parsed.prefixes)
        for form in forms
    ]
    starts: set[int] = set()
    for seq in [*parsed.phrases, *parsed.runs]:
        found = _occurrences(seq, forms)
        starts.update(found)
        for i in found:
            for k in range(len(seq)):
                flags[i + k] = True
        if not found and seq in parsed.runs:
            for i, form in enumerate(forms):
                flags[i] |= any(form[kind] == token for kind, token in seq)
    return flags, starts


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
    flags, phrase_starts = _flags(parsed, [(e, f) for e, f, _, _ in toks])
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


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """[start, end) code-point spans of the NFC text that matched the query, neighbours merged."""
    text = unicodedata.normalize("NFC", text or "")
    parsed = parse_query(query or "")
    toks = syllables(text)
    if not toks or parsed.loose is None:
        return []
    flags, _ = _flags(parsed, [(e, f) for e, f, _, _ in toks])
    spans: list[tuple[int, int]] = []
    for (_, _, start, end), hit in zip(toks, flags):
        if not hit:
            continue
        if spans and text[spans[-1][1] : start].isspace():
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def highlight_all(text: str, query: str) -> str:
    """The whole text, HTML-escaped, with <mark> around every run of words matching the query."""
    text = unicodedata.normalize("NFC", text or "")
    parsed = parse_query(query or "")
    toks = syllables(text)
    if not toks or parsed.loose is None:
        return escape(text)
    flags, _ = _flags(parsed, [(e, f) for e, f, _, _ in toks])
    parts: list[str] = []
    cursor = _mark_range(text, toks, flags, 0, len(toks), 0, parts)
    parts.append(escape(text[cursor:]))
    return "".join(parts)
