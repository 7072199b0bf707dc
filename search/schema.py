"""The Whoosh schema of the essay index."""

from __future__ import annotations

from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema

from search.analysis import BigramAnalyzer, ExactAnalyzer, ExactBigramAnalyzer, FoldedAnalyzer

# Fields a caller may count hits by (they have a column, so counting reads no stored document).
COUNTABLE_FIELDS = ("course_id", "topic_id", "unit_code", "state")


def build_schema() -> Schema:
    """Return the schema; changing it needs a rebuild of the index."""
    return Schema(
        # Columns (sortable=True) let a page of hits read its ids and dates without loading
        # the stored document, which holds the whole body.
        essay_id=ID(stored=True, unique=True, sortable=True),
        course_id=ID(stored=True, sortable=True),
        topic_id=ID(stored=True, sortable=True),
        unit_code=ID(stored=True, sortable=True),
        state=ID(stored=True, sortable=True),
        themes=KEYWORD(stored=True, commas=True, scorable=False),
        trainee=TEXT(stored=True, analyzer=FoldedAnalyzer(), phrase=False),
        submitted_at=DATETIME(stored=True, sortable=True),
        # No positions on the two syllable fields: phrases are answered by `bigrams`, which is
        # much faster than comparing positions of syllables as common as "số" or "của".
        exact=TEXT(analyzer=ExactAnalyzer(), phrase=False),
        folded=TEXT(analyzer=FoldedAnalyzer(), phrase=False),
        bigrams=TEXT(analyzer=BigramAnalyzer(), phrase=True),
        # Marked pairs ("chuyển đổi"), for phrases typed with marks (search.analysis).
        exact_bigrams=TEXT(analyzer=ExactBigramAnalyzer(), phrase=True),
        # The NFC text, for snippets: highlighting re-tokenizes it, so offsets need not be stored.
        body=STORED(),
    )
