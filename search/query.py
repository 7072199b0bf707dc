"""Turn what a user typed into Whoosh queries, without ever raising.

Syntax: words (all required), "quoted phrases", uppercase OR / AND / NOT, ``-word``, ``prefix*``.
Parentheses are ignored. Several words typed without quotes form a *run*.

Marks are honoured word by word: a word typed with marks ("số", "hoà", NFD or upper case alike)
matches only that word with those marks (the ``exact`` token, tone placement and case ignored);
a word typed without marks ("so") matches every marked form (the ``folded`` token). A quoted
phrase asks for its words in a row. A run asks for all its words anywhere (``loose``: the set of
essays that ``total`` counts); the essays holding the run in a row (``strict``: ``phrase_total``)
come first, then for runs of three or more syllables those holding some adjacent pair of it,
then the rest. Every stage is a subset of ``loose``, so hits and counts agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.matching import AndNotMatcher

from search.analysis import bigram_terms, exact_bigram_terms, fold, syllables

# Longer input is cut: nobody types more, and each syllable costs a posting list.
MAX_QUERY_CHARS = 500
# Prefixes shorter than this would expand to a large part of the vocabulary ("ch*": every syllable
# starting with ch): such a prefix is read as the word typed, and the user is told (query_notes).
MIN_PREFIX_CHARS = 3
# Cost bounds: each prefix expands to many terms and each syllable to a posting list. Before,
# `ch* ` × 125 took 3 s (and held the index lock that every search of the process waits on).
MAX_PREFIXES = 3
MAX_SYLLABLES = 32
# What one query may spend in the index, in seconds, whatever got past the bounds above (a common
# prefix, a huge index, a loaded machine): Whoosh stops collecting and answers what it found,
# PostgreSQL cancels the statement (statement_timeout). Both backends read it from here.
TIME_BUDGET_SECONDS = 2.0


class SearchTimeout(RuntimeError):
    """A query ran out of its time budget before it could answer anything."""
# Which token a query word matches: 0 the exact one, 1 the folded one (as analysis._forms).
EXACT, FOLDED = 0, 1

_TOKEN_RE = re.compile(r'"([^"]*)"?|([^\s"()]+)')
_OPERATORS = ("OR", "AND", "NOT")

Word = tuple[int, str]  # (EXACT or FOLDED, the token it must equal)


@dataclass
class ParsedQuery:
    """The readings of a user query, plus what a snippet should mark."""

    strict: wq.Query | None  # runs read as phrases: what phrase_total counts
    loose: wq.Query | None  # runs read as all words anywhere: what total counts
    has_run: bool  # an unquoted run of two or more syllables was typed
    words: set[Word] = field(default_factory=set)  # single words to highlight
    prefixes: set[Word] = field(default_factory=set)  # prefixes to highlight
    phrases: list[tuple[Word, ...]] = field(default_factory=list)  # quoted: marked only in a row
    runs: list[tuple[Word, ...]] = field(default_factory=list)  # unquoted: in a row, else each word
    stages: list[wq.Query] = field(default_factory=list)  # run in order, each adding new hits
    short_prefixes: list[str] = field(default_factory=list)  # typed with * but too short: read as words
    trimmed: bool = False  # something beyond MAX_QUERY_CHARS / MAX_PREFIXES / MAX_SYLLABLES was ignored

    @property
    def terms(self) -> set[str]:
        """Every token the query looks for (exact or folded), for display."""
        every = set(self.words)
        for seq in [*self.phrases, *self.runs]:
            every.update(seq)
        return {token for _, token in every}


@dataclass
class _Item:
    kind: str  # "word", "run", "phrase" or "prefix"
    syls: list[tuple[str, str]]  # (exact, folded)
    negated: bool = False


def _word(exact: str, folded: str) -> Word:
    """What one typed syllable must equal: its exact token if it carries a mark, else its folded one."""
    return (EXACT, exact) if exact != folded else (FOLDED, folded)


def _term(word: Word) -> wq.Term:
    return wq.Term("exact" if word[0] == EXACT else "folded", word[1])


def _in_a_row(field_name: str, grams: list[str]) -> wq.Query:
    return wq.Term(field_name, grams[0]) if len(grams) == 1 else wq.Phrase(field_name, grams)


def _phrase(syls: list[tuple[str, str]], exact_bigrams: bool = True) -> wq.Query:
    """Syllables in a row, each read as typed (see the module docstring)."""
    words = [_word(e, f) for e, f in syls]
    if len(words) == 1:
        return _term(words[0])
    marked = [kind == EXACT for kind, _ in words]
    if not any(marked):
        return _in_a_row("bigrams", bigram_terms([f for _, f in syls]))
    if all(marked) and exact_bigrams:
        return _in_a_row("exact_bigrams", exact_bigram_terms([e for e, _ in syls]))
    # Marked and unmarked words mixed (or an index built before exact_bigrams): the folded
    # phrase, and each marked pair (or word) somewhere in the essay. Such a query is rare; the
    # reading can only err when the essay also holds the same words in another marked form.
    parts: list[wq.Query] = [_in_a_row("bigrams", bigram_terms([f for _, f in syls]))]
    covered: set[int] = set()
    if exact_bigrams:
        for i in range(len(words) - 1):
            if marked[i] and marked[i + 1]:
                parts.append(wq.Term("exact_bigrams", syls[i][0] + " " + syls[i + 1][0]))
                covered.update((i, i + 1))
    parts += [_term(w) for i, w in enumerate(words) if marked[i] and i not in covered]
    return wq.And(parts)


def _prefix(exact: str, folded: str) -> wq.Query | None:
    if exact != folded:
        return wq.Prefix("exact", exact)
    return wq.Prefix("folded", folded)


def _lex(text: str, short_prefixes: list[str] | None = None) -> list[_Item | str]:
    """Split the query into items and operator strings; prefixes too short to expand are read as
    the word typed (and listed in short_prefixes)."""
    out: list[_Item | str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        if run:
            out.append(_Item("run" if len(run) > 1 else "word", list(run)))
            run.clear()

    negate = False
    for match in _TOKEN_RE.finditer(text):
        quoted, bare = match.group(1), match.group(2)
        if bare in _OPERATORS:
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
            short = len(syls[-1][1]) < MIN_PREFIX_CHARS
            if short and short_prefixes is not None and syls[-1][0] not in short_prefixes:
                short_prefixes.append(syls[-1][0])
            # Its own item either way, so that "ch* ch* …" collapses to one.
            out.append(_Item("word" if short else "prefix", syls[-1:], neg))
        elif neg:
            flush()
            out.append(_Item("phrase", syls, True))
        else:
            run.extend(syls)
    flush()
    return out


def _item_queries(item: _Item, exact_bigrams: bool) -> tuple[wq.Query, wq.Query, wq.Query] | None:
    """The readings of one item: in a row, some adjacent pair of a long run, anywhere."""
    if item.kind == "prefix":
        q = _prefix(*item.syls[0])
        return None if q is None else (q, q, q)
    strict = _phrase(item.syls, exact_bigrams)
    if item.kind != "run":
        return strict, strict, strict
    # A word typed twice is looked up once.
    distinct = [_term(w) for w in dict.fromkeys(_word(e, f) for e, f in item.syls)]
    loose = wq.And(distinct)
    if len(distinct) == 1:
        return strict, distinct[0], distinct[0]
    partial: wq.Query = loose
    if len(item.syls) > 2:
        # Between the phrase and scattered words: some adjacent pair of it, e.g. "chuyển đổi".
        # (And, not Require: whoosh3's RequireMatcher trips an assertion on this shape.)
        pairs = [_phrase(item.syls[i : i + 2], exact_bigrams) for i in range(len(item.syls) - 1)]
        partial = wq.And([*loose.subqueries, wq.Or(pairs)])
    return strict, partial, loose


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


def _note_item(parsed: ParsedQuery, item: _Item) -> None:
    """Record what a snippet should mark for one positive item."""
    words = tuple(_word(e, f) for e, f in item.syls)
    parsed.has_run |= item.kind == "run"
    if item.kind == "prefix":
        parsed.prefixes.add(words[0])
    elif len(words) == 1:
        parsed.words.add(words[0])
    elif item.kind == "run":
        parsed.runs.append(words)
    else:
        parsed.phrases.append(words)


def _bounded(clauses: list[list[_Item]]) -> tuple[list[list[_Item]], bool]:
    """The same clauses with repeats collapsed (an item, a whole clause), at most MAX_PREFIXES
    prefixes and MAX_SYLLABLES syllables in all; what is beyond is ignored, as an over-long query is.
    Also says whether anything was ignored (repeats do not count: they change nothing)."""
    out: list[list[_Item]] = []
    trimmed = False
    seen_clauses: set[tuple] = set()
    prefixes = syllable_count = 0
    for clause in clauses:
        kept: list[_Item] = []
        seen: set[tuple] = set()
        for item in clause:
            key = (item.kind, tuple(item.syls), item.negated)
            if key in seen:
                continue
            if item.kind == "prefix":
                if prefixes >= MAX_PREFIXES:
                    trimmed = True
                    continue
                prefixes += 1
            room = MAX_SYLLABLES - syllable_count
            if room <= 0:
                trimmed = True
                continue
            if len(item.syls) > room:
                trimmed = True
                item = _Item(item.kind, item.syls[:room], item.negated)
            syllable_count += len(item.syls)
            seen.add(key)
            kept.append(item)
        seen_key = tuple(sorted(seen))
        if seen_key not in seen_clauses or not kept:
            seen_clauses.add(seen_key)
            out.append(kept)
    return out, trimmed


def parse_query(text: str, exact_bigrams: bool = True) -> ParsedQuery:
    """Parse a user query; malformed input yields a sensible reading or an empty one.

    exact_bigrams=False reads marked phrases without the exact_bigrams field (an index built
    before it existed).
    """
    text = text if isinstance(text, str) else ""
    cut, text = len(text) > MAX_QUERY_CHARS, text[:MAX_QUERY_CHARS]
    clauses: list[list[_Item]] = [[]]
    short_prefixes: list[str] = []
    for item in _lex(text, short_prefixes):
        if item == "OR":
            clauses.append([])
        elif isinstance(item, _Item):
            clauses[-1].append(item)
        # "AND" only ends a run: words are required anyway.

    clauses, trimmed = _bounded(clauses)
    parsed = ParsedQuery(None, None, False, short_prefixes=short_prefixes, trimmed=trimmed or cut)
    levels: list[list[wq.Query]] = [[], [], []]
    for clause in clauses:
        positives: list[list[wq.Query]] = [[], [], []]
        negs = []
        for item in clause:
            queries = _item_queries(item, exact_bigrams)
            if queries is None:
                continue
            if item.negated:
                negs.append(queries[-1])  # the same exclusion in every stage, so they agree
                continue
            _note_item(parsed, item)
            for level, q in zip(positives, queries):
                level.append(q)
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


def unmarked_query(text: str) -> str:
    """The same query with every mark removed from its words (operators kept): "số" → "so"."""
    def repl(match: re.Match[str]) -> str:
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            return '"' + fold(quoted) + '"'
        return bare if bare in _OPERATORS else fold(bare)

    return _TOKEN_RE.sub(repl, text[:MAX_QUERY_CHARS] if isinstance(text, str) else "")


def query_notes(parsed: ParsedQuery) -> list[str]:
    """What the search did not read as typed, in Vietnamese, for the page and the API."""
    notes = []
    if parsed.short_prefixes:
        typed = ", ".join(f"«{p}*»" for p in parsed.short_prefixes)
        notes.append(f"Tiền tố cần ít nhất {MIN_PREFIX_CHARS} chữ cái: {typed} được tìm như một từ.")
    if parsed.trimmed:
        notes.append(f"Từ khóa quá dài: chỉ dùng {MAX_SYLLABLES} âm tiết và {MAX_PREFIXES} tiền tố đầu tiên "
                     f"(tối đa {MAX_QUERY_CHARS} ký tự), phần sau được bỏ qua.")
    return notes
