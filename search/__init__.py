"""Full-text search of essays on Whoosh: no Flask, no SQLAlchemy, none of the project's packages.

Search returns essay ids; the caller applies permissions and loads rows with SQL.
"""

from search.analysis import canonical_tones, fold, normalize_text
from search.index import EssayIndex, SearchResult

__all__ = ["EssayIndex", "SearchResult", "canonical_tones", "fold", "normalize_text"]
