"""Models of the review feature; each area keeps its own module (completeness, tagging)."""
