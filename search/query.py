"""Turn what a user typed into Whoosh queries, without ever raising.

Syntax: words (all required), "quoted phrases", uppercase OR / AND / NOT, ``-word``, ``prefix*``.
Parentheses are ignored. Several words typed without quotes form a *run*. A query runs in stages,
each adding hits the previous ones lacked: ``strict`` (runs as phrases, marked words in their
exact form), the same with marks folded, for runs of three or more syllables some adjacent pair
of the run, then ``loose`` (all words anywhere, marks folded). So phrase hits rank far above scattered words, and
"hòa" ranks essays with "hoà"/"hòa" above those with "hóa" without a costly union of two fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.matching import AndNotMatcher

from search.analysis import bigram_terms, syllables

# Longer input is cut: nobody types more, and each syllable costs a posting list.
MAX_QUERY_CHARS = 500
# Readings of a query, run as successive stages (see _item_queries).
_LEVELS = 4
# Prefixes shorter than this would expand to a large part of the vocabulary.
MIN_PREFIX_CHARS = 2

_TOKEN_RE = re.compile(r'"([^"]*)"?|([^\s"()]+)')


@dataclass
class ParsedQuery:
    """Both readings of a user query, plus what a snippet should mark."""

    strict: wq.Query | None  # unquoted runs read as phrases, marked words in their exact form
    loose: wq.Query | None  # unquoted runs read as all words anywhere, words folded
    has_run: bool  # an unquoted run of two or more syllables was typed
    terms: set[str] = field(default_factory=set)  # folded syllables to highlight
    prefixes: set[str] = field(default_factory=set)  # folded prefixes to highlight
    sequences: list[tuple[str, ...]] = field(default_factory=list)  # folded phrases to highlight
    stages: list[wq.Query] = field(default_factory=list)  # run in order, each adding new hits


@dataclass
class _Item:
    kind: str  # "word", "run", "phrase" or "prefix"
    syls: list[tuple[str, str]]  # (exact, folded)
    negated: bool = False


def _phrase(syls: list[tuple[str, str]], exact: bool = False) -> wq.Query:
    """Syllables in a row, from the bigram field; exact=True reads one syllable in its exact form."""
    if len(syls) == 1:
        e, f = syls[0]
        return wq.Term("exact", e) if exact and e != f else wq.Term("folded", f)
    grams = bigram_terms([f for _, f in syls])
    core = wq.Term("bigrams", grams[0]) if len(grams) == 1 else wq.Phrase("bigrams", grams)
    # Marks are not checked inside a phrase: a folded phrase of two or more syllables almost
    # never meets a different accented one, and adding the exact terms (as And or AndMaybe)
    # cost up to 100 ms on common phrases at 15,000 essays (docs/PERFORMANCE.md).
    return core


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


def _item_queries(item: _Item) -> tuple[wq.Query, ...] | None:
    """The readings of one item, strictest first: exact, folded, partial, loose."""
    if item.kind == "prefix":
        q = _prefix(*item.syls[0])
        return None if q is None else (q,) * _LEVELS
    strict, folded = _phrase(item.syls, exact=True), _phrase(item.syls)
    if item.kind != "run":
        return strict, folded, folded, folded
    loose = wq.And([wq.Term("folded", f) for _, f in item.syls])
    partial = loose
    if len(item.syls) > 2:
        # Between the phrase and scattered words: some adjacent pair of it, e.g. "chuyển đổi".
        # (And, not Require: whoosh3's RequireMatcher trips an assertion on this shape.)
        grams = bigram_terms([f for _, f in item.syls])
        partial = wq.And([*loose.subqueries, wq.Or([wq.Term("bigrams", g) for g in grams])])
    return strict, folded, partial, loose


class _AndNotMatcher(AndNotMatcher):
    # whoosh3 3.54 checks the first match against the excluded list only when both lists start
    # at the same document, so "lịch sử -chiến" returned an essay with "chiến" whenever an
    # essay with only "chiến" came before it (more often with several segments).
    def _find_first(self):
        if self.a.is_active() and self.b.is_active():
            self._find_next()


class _AndNot(wq.AndNot):
    """AndNot with the first-match fix above."""

    def matcher(self, searcher, context=None):
        return _AndNotMatcher(
            self.a.matcher(searcher, context), self.b.matcher(searcher, searcher.boolean_context())
        )


def _combine(positives: list[wq.Query], negatives: list[wq.Query]) -> wq.Query | None:
    if not positives:
        return None  # "NOT x" alone would mean every other essay: return nothing instead
    q = positives[0] if len(positives) == 1 else wq.And(positives)
    if negatives:
        q = _AndNot(q, negatives[0] if len(negatives) == 1 else wq.Or(negatives))
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
    levels: list[list[wq.Query]] = [[] for _ in range(_LEVELS)]
    for clause in clauses:
        positives: list[list[wq.Query]] = [[] for _ in range(_LEVELS)]
        negs = []
        for item in clause:
            queries = _item_queries(item)
            if queries is None:
                continue
            if item.negated:
                negs.append(queries[-1])  # excluded in every form, so every stage agrees
                continue
            parsed.has_run |= item.kind == "run"
            for level, q in zip(positives, queries):
                level.append(q)
            folded = tuple(f for _, f in item.syls)
            if item.kind == "prefix":
                parsed.prefixes.add(folded[0])
            else:
                parsed.terms.update(folded)
                if len(folded) > 1:
                    parsed.sequences.append(folded)
        if positives[0]:
            for level, pos in zip(levels, positives):
                level.append(_combine(pos, negs))
    if levels[0]:
        stages = [qs[0] if len(qs) == 1 else wq.Or(qs) for qs in levels]
        parsed.strict, parsed.loose = stages[0], stages[-1]
        for q in stages:
            if not parsed.stages or parsed.stages[-1] != q:
                parsed.stages.append(q)
    return parsed
