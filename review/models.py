"""Every model of the review feature in one namespace: lms/migrations/env.py imports `<feature>.models`
so that Alembic sees all tables. Each area keeps its models beside its code (tagging/, completeness/, report/)."""

from review.completeness.models import Attendance, CompletenessRevision, Exemption, Notice
from review.report.models import ReportSettings
from review.tagging.models import (
                                   EssayReview,
                                   PassageGroup,
                                   ReviewAssignment,
                                   Suggestion,
                                   SuggestionScan,
                                   Tag,
                                   TagTheme,
                                   Theme,
)
from review.wards.models import WardReport, WardReportPassage

__all__ = ["Attendance", "CompletenessRevision", "Exemption", "Notice", "ReportSettings", "EssayReview",
           "PassageGroup", "ReviewAssignment", "Suggestion", "SuggestionScan", "Tag", "TagTheme", "Theme",
           "WardReport", "WardReportPassage"]
