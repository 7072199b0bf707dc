"""Models of the review feature; each area keeps its own module (completeness, tagging)."""

from review.models.attendance import Attendance, CompletenessRevision, Exemption, Notice
from review.models.tagging import (EssayReview, PassageGroup, ReviewAssignment, Suggestion,
                                   SuggestionScan, Tag, TagTheme, Theme)

__all__ = ["Attendance", "CompletenessRevision", "Exemption", "Notice", "EssayReview", "PassageGroup",
           "ReviewAssignment", "Suggestion", "SuggestionScan", "Tag", "TagTheme", "Theme"]
