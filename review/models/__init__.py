"""Models of the review feature; each area keeps its own module (completeness, tagging)."""

from review.models.attendance import Attendance, Exemption, Notice

__all__ = ["Attendance", "Exemption", "Notice"]
