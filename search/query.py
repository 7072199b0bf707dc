"""Turn what a user typed into Whoosh queries, without ever raising.

Syntax: words (all required), "quoted phrases", uppercase OR / AND / NOT, ``-word``, ``prefix*``.
Parentheses are ignored. Several words typed without quotes form a *run*: it is searched as a
phrase first (``strict``) and then as all-words-anywhere (``loose``), so phrase hits rank first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import query as wq

from search.analysis import bigram_terms, syllables

# An exact-field match adds this much on top of the folded match's score.
EXACT_BOOST = 2.0
# Longer input is cut: nobody types more, and each syllable costs a posting list.
MAX_QUERY_CHARS = 500
# Prefixes shorter than this would expand to a large part of the vocabulary.
MIN_PREFIX_CHARS = 2

_TOKEN_RE = re.compile(r'"([^"]*)"?|([^\s"()]+)')


@dataclass
class ParsedQuery:
    """Both readings of a user query, plus what a snippet should mark."""

    strict: wq.Query | None  # unquoted runs read as phrases
    loose: wq.Query | None  # unquoted runs read as all words anywhere
    has_run: bool  # an unquoted run of two or more syllables was typed
    terms: set[str] = field(default_factory=set)  # folded syllables to highlight
    prefixes: set[str] = field(default_factory=set)  # folded prefixes to highlight
    sequences: list[tuple[str, ...]] = field(default_factory=list)  # folded phrases to highlight


@dataclass
class _Item:
    kind: str  # "word", "run", "phrase" or "prefix"
    syls: list[tuple[str, str]]  # (exact, folded)
    negated: bool = False


def _word(exact: str, folded: str) -> wq.Query:
    base = wq.Term("folded", folded)
    if exact == folded:
        return base  # typed without marks: the folded field alone decides
    # A union, not AndMaybe: Whoosh can skip whole blocks of a union when collecting the top hits.
    return wq.Or([base, wq.Term("exact", exact, boost=EXACT_BOOST)])


def _phrase(syls: list[tuple[str, str]]) -> wq.Query:
    if len(syls) == 1:
        return _word(*syls[0])
    grams = bigram_terms([f for _, f in syls])
    core = wq.Term("bigrams", grams[0]) if len(grams) == 1 else wq.Phrase("bigrams", grams)
    marked = [wq.Term("exact", e) for e, f in syls if e != f]
    if not marked:
        return core
    # The exact syllables only add score to phrase hits; they never widen the match.
    bonus = marked[0] if len(marked) == 1 else wq.And(marked)
    return wq.AndMaybe(core, bonus.with_boost(EXACT_BOOST))


def _prefix(exact: str, folded: str) -> wq.Query | None:
    if len(folded) < MIN_PREFIX_CHARS:
        return None
    if exact != folded:
        return wq.Prefix("exact", exact)
    return wq.Prefix("folded", folded)


def _lex(text: str) -> list[_Item | str]:
    """Split the query into items and operator strings."""
    out: list[_Item | str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        if run:
            out.append(_Item("run" if len(run) > 1 else "word", list(run)))
            run.clear()

    negate = False
    for match in _TOKEN_RE.finditer(text):
        quoted, bare = match.group(1), match.group(2)
        if bare in ("OR", "AND", "NOT"):
            flush()
            if bare == "NOT":
                negate = True
            else:
                out.append(bare)
                negate = False
            continue
        neg, negate = negate, False
        if quoted is not None:
            syls = [(e, f) for e, f, _, _ in syllables(quoted)]
            if syls:
                flush()
                out.append(_Item("phrase", syls, neg))
            continue
        if bare.startswith("-") and len(bare) > 1:
            neg, bare = True, bare.lstrip("-")
        is_prefix = bare.endswith("*")
        syls = [(e, f) for e, f, _, _ in syllables(bare)]
        if not syls:
            continue
        if is_prefix:
            flush()
            if len(syls) > 1:
                out.append(_Item("phrase", syls[:-1], neg))
            out.append(_Item("prefix", syls[-1:], neg))
        elif neg:
            flush()
            out.append(_Item("phrase", syls, True))
        else:
            run.extend(syls)
    flush()
    return out


def _combine(positives: list[wq.Query], negatives: list[wq.Query]) -> wq.Query | None:
    if not positives:
        return None  # "NOT x" alone would mean every other essay: return nothing instead
    q = positives[0] if len(positives) == 1 else wq.And(positives)
    if negatives:
        q = wq.AndNot(q, negatives[0] if len(negatives) == 1 else wq.Or(negatives))
    return q


def parse_query(text: str) -> ParsedQuery:
    """Parse a user query; malformed input yields a sensible reading or an empty one."""
    text = text[:MAX_QUERY_CHARS] if isinstance(text, str) else ""
    clauses: list[list[_Item]] = [[]]
    for item in _lex(text):
        if item == "OR":
            clauses.append([])
        elif isinstance(item, _Item):
            clauses[-1].append(item)
        # "AND" only ends a run: words are required anyway.

    parsed = ParsedQuery(None, None, False)
    strict_clauses, loose_clauses = [], []
    for clause in clauses:
        pos_strict, pos_loose, negs = [], [], []
        for item in clause:
            if item.kind == "prefix":
                q = _prefix(*item.syls[0])
                if q is None:
                    continue
                strict = loose = q
            elif item.kind == "run":
                parsed.has_run = True
                strict = _phrase(item.syls)
                loose = wq.And([_word(e, f) for e, f in item.syls])
            else:
                strict = loose = _phrase(item.syls)
            if item.negated:
                negs.append(strict)
                continue
            pos_strict.append(strict)
            pos_loose.append(loose)
            folded = tuple(f for _, f in item.syls)
            if item.kind == "prefix":
                parsed.prefixes.add(folded[0])
            else:
                parsed.terms.update(folded)
                if len(folded) > 1:
                    parsed.sequences.append(folded)
        strict_q = _combine(pos_strict, negs)
        if strict_q is not None:
            strict_clauses.append(strict_q)
            loose_clauses.append(_combine(pos_loose, negs))
    if strict_clauses:
        parsed.strict = strict_clauses[0] if len(strict_clauses) == 1 else wq.Or(strict_clauses)
        parsed.loose = loose_clauses[0] if len(loose_clauses) == 1 else wq.Or(loose_clauses)
    return parsed
