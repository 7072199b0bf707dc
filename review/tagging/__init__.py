"""Tagging: the Board's themes, tagged passages, suggestions, near-duplicate groups and the compilation."""
