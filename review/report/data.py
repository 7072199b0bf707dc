"""The report's figures: unit and topic figures from completeness, tagged passages aggregated by theme.

Unit and topic figures come from `review.completeness.figures.completeness` (the one function behind the
overview page, the completeness API and its exports): this module never recounts them. Tagged
passages are aggregated next to it by `theme_figures`. The builders (`xlsx.py`, `docx.py` with
`charts.py`) are pure: `ReportData` in, bytes out.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd
from sqlalchemy import select

from essays.models import Essay, EssayVersion
from lms.db import db, utcnow
from lms.models import Course, Topic, Unit, User
from lms.text import vn_sort_key
from lms.timefmt import to_local
from review.completeness.figures import Completeness, completeness, core_rows, trainee_states
from review.tagging.models import KIND_LABELS, TAG_KINDS, Tag, TagTheme, Theme

WARD_KINDS = {"phường", "xã", "đặc khu"}
FORMATS = ("xlsx", "docx")
BOTH = "zip"  # the .docx and the .xlsx from one aggregation, in one .zip (pages, job)
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             BOTH: "application/zip"}


class ReportError(ValueError):
    """Report settings or a report request that cannot be accepted; the message is for the user."""


# --- the theme aggregation (next to completeness) ------------------------------------------------

@dataclass
class ThemeFigures:
    """Tagged passages as of a time: `passages` (one row per tag), `pairs` (tag × theme), `clusters` and
    `themes` (per theme × kind, most frequent first)."""

    passages: pd.DataFrame
    pairs: pd.DataFrame
    clusters: pd.DataFrame
    themes: pd.DataFrame

    def totals(self) -> dict[str, int]:
        """Tags, distinct passages (confirmed groups once), essays and units over every theme."""
        p = self.passages
        return {"tags": int(len(p)), "passages": int(p["cluster"].nunique()) if len(p) else 0,
                "essays": int(p["essay_id"].nunique()) if len(p) else 0,
                "units": int(p["unit_id"].nunique()) if len(p) else 0}

    def cluster_units(self, theme_id: int, kind: str, cluster: str) -> list[str]:
        """Names of the units a passage (cluster) of a theme comes from, in Vietnamese order."""
        p = self.pairs
        part = p[(p["theme_id"] == theme_id) & (p["kind"] == kind) & (p["cluster"] == cluster)]
        return sorted(part.drop_duplicates("unit_id")["unit_name"].tolist(), key=vn_sort_key)


_PASSAGE_COLUMNS = ["tag_id", "cluster", "is_duplicate", "kind", "text", "essay_id", "unit_id", "unit_code",
                    "unit_name", "unit_kind", "trainee", "topic_position", "topic_title", "themes", "theme_ids",
                    "topic_id", "version_id", "version_number", "start", "end"]


def _cluster_keys(course_id: int) -> dict[int, str]:
    """Each tag's cluster: its confirmed group, its original's cluster, or itself (as in the compilation)."""
    rows = core_rows(select(Tag.id, Tag.group_id, Tag.duplicate_of_id).where(Tag.course_id == course_id))
    info = {r.id: (r.group_id, r.duplicate_of_id) for r in rows}
    keys: dict[int, str] = {}
    for tag_id in info:
        current, seen = tag_id, set()
        while info[current][0] is None and info[current][1] in info and current not in seen:
            seen.add(current)
            current = info[current][1]
        group = info[current][0]
        keys[tag_id] = f"g{group}" if group is not None else f"t{current}"
    return keys


def theme_figures(course: Course, as_of: dt.datetime | None = None, unit_ids: Iterable[int] | None = None,
                  theme_ids: Iterable[int] | None = None) -> ThemeFigures:
    """Tagged passages per theme and kind as of a time: passages (confirmed near-duplicates once), essays, units.

    A tag counts when the version it marks was handed in by then. When the tag itself was made does
    not matter: the Board reads and tags after the deadline, and a report "as of the deadline" built a
    week later must show what was said by the deadline, not an empty section IV.
    """
    as_of = (as_of or utcnow()).astimezone(dt.timezone.utc)
    trainee = User.__table__.alias("trainee")
    query = (select(Tag.id, Tag.kind, Tag.text, Tag.essay_id, Tag.unit_id, Tag.duplicate_of_id, Unit.code,
                    Unit.name, Unit.kind.label("unit_kind"), trainee.c.full_name, Topic.position, Topic.title,
                    Topic.id.label("topic_id"), Tag.version_id, EssayVersion.number.label("version_number"),
                    Tag.start_offset, Tag.end_offset)
             .join(EssayVersion, EssayVersion.id == Tag.version_id)
             .join(Essay, Essay.id == Tag.essay_id)
             .join(Topic, Topic.id == Essay.topic_id)
             .join(trainee, trainee.c.id == Essay.trainee_id)
             .join(Unit, Unit.id == Tag.unit_id)
             .where(Tag.course_id == course.id, EssayVersion.submitted_at <= as_of))
    if unit_ids is not None:
        query = query.where(Tag.unit_id.in_(list(unit_ids)))
    links_query = (select(TagTheme.tag_id, Theme.id, Theme.name).join(Theme, Theme.id == TagTheme.theme_id)
                   .join(Tag, Tag.id == TagTheme.tag_id).where(Tag.course_id == course.id))
    wanted = None if theme_ids is None else set(theme_ids)
    if wanted is not None:
        query = query.where(Tag.id.in_(select(TagTheme.tag_id).where(TagTheme.theme_id.in_(wanted))))
    tags = core_rows(query)
    links = pd.DataFrame.from_records([tuple(r) for r in core_rows(links_query)],
                                      columns=["tag_id", "theme_id", "theme"])
    keys = _cluster_keys(course.id) if tags else {}
    # Sort keys once per theme, not once per tag (vn_sort_key is pure Python).
    names = dict(zip(links["theme_id"], links["theme"]))
    rank = {theme_id: i for i, theme_id in enumerate(sorted(names, key=lambda t: vn_sort_key(names[t])))}
    per_tag_themes: dict[int, list[tuple[int, str]]] = {}
    for tag_id, theme_id, name in links.itertuples(index=False):
        per_tag_themes.setdefault(tag_id, []).append((theme_id, name))
    records = []
    for r in tags:
        themes = sorted(per_tag_themes.get(r.id, []), key=lambda t: rank[t[0]])
        records.append((r.id, keys.get(r.id, f"t{r.id}"), r.duplicate_of_id is not None, r.kind, r.text, r.essay_id,
                        r.unit_id, r.code, r.name, r.unit_kind, r.full_name, r.position, r.title,
                        ", ".join(t[1] for t in themes), [t[0] for t in themes], r.topic_id, r.version_id,
                        r.version_number, r.start_offset, r.end_offset))
    passages = pd.DataFrame.from_records(records, columns=_PASSAGE_COLUMNS)
    passages = passages.sort_values(["unit_code", "topic_position", "tag_id"], kind="stable").reset_index(drop=True)

    # One row per tag × theme, the unit of every count below.
    pairs = passages[["tag_id", "cluster", "is_duplicate", "kind", "text", "essay_id", "unit_id", "unit_name",
                      "unit_kind"]].merge(links, on="tag_id", how="inner")
    if wanted is not None:
        pairs = pairs[pairs["theme_id"].isin(wanted)]
    clusters = _clusters(pairs)
    themes = _themes(pairs)
    return ThemeFigures(passages=passages, pairs=pairs, clusters=clusters, themes=themes)


_TOPIC_PREFIX = re.compile(r"^\s*(?:chủ\s*đề|chuyên\s*đề)\s*(?:số\s*)?[0-9IVXivx]+\s*(?:[:.\-–—)]\s*|$)",
                           re.IGNORECASE)


def topic_label(position: int, title: str) -> str:
    """“Chủ đề 2: Chuyển đổi số”, never “Chủ đề 2: Chuyên đề 2: Chuyển đổi số” (nor “Chủ đề 1: Chủ đề 1”)."""
    bare = _TOPIC_PREFIX.sub("", title or "", count=1).strip()
    return f"Chủ đề {position}: {bare}" if bare else f"Chủ đề {position}"


def distinct_passages(passages: pd.DataFrame) -> pd.DataFrame:
    """Each passage once, by class topic: a cluster's lead (the original, then the oldest tag) with how many
    tags repeat it (`repeats`); the same span of the same version tagged twice is one passage too."""
    if passages.empty:
        return passages.assign(repeats=pd.Series(dtype="int64"))
    ordered = passages.sort_values(["is_duplicate", "tag_id"], kind="stable")
    ordered = ordered.drop_duplicates(["version_id", "start", "end"])
    repeats = ordered.groupby("cluster")["tag_id"].transform("size")
    leads = ordered.assign(repeats=repeats).drop_duplicates("cluster")
    return leads.sort_values(["topic_position", "essay_id", "start", "tag_id"], kind="stable").reset_index(drop=True)


def _unit_list(frame: pd.DataFrame) -> tuple[list[str], bool]:
    units = frame.drop_duplicates("unit_id")
    names = sorted(units["unit_name"].tolist(), key=vn_sort_key)
    return names, bool(len(units)) and all(k in WARD_KINDS for k in units["unit_kind"])


def _clusters(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per theme × kind × cluster: lead text, tags, essays, units (set-based: 20,000 tags in well under a second)."""
    columns = ["theme_id", "theme", "kind", "cluster", "text", "tags", "essays", "units", "all_wards"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    keys = ["theme_id", "kind", "cluster"]
    # The lead passage: an original before its duplicates, then the oldest tag.
    lead = (pairs.sort_values(["is_duplicate", "tag_id"], kind="stable")
            .drop_duplicates(keys)[[*keys, "theme", "text"]])
    grouped = pairs.assign(is_ward=pairs["unit_kind"].isin(WARD_KINDS)).groupby(keys)
    counts = pd.DataFrame({"tags": grouped["tag_id"].nunique(), "essays": grouped["essay_id"].nunique(),
                           "units": grouped["unit_id"].nunique(), "all_wards": grouped["is_ward"].all()}).reset_index()
    frame = lead.merge(counts, on=keys)[columns]
    return frame.sort_values(["theme_id", "units", "tags"], ascending=[True, False, False],
                             kind="stable").reset_index(drop=True)


def _themes(pairs: pd.DataFrame) -> pd.DataFrame:
    columns = ["theme_id", "theme", "kind", "kind_label", "passages", "tags", "essays", "units", "unit_names",
               "all_wards"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (theme_id, kind), part in pairs.groupby(["theme_id", "kind"], sort=False):
        names, all_wards = _unit_list(part)
        rows.append((theme_id, part["theme"].iloc[0], kind, KIND_LABELS[kind], int(part["cluster"].nunique()),
                     int(part["tag_id"].nunique()), int(part["essay_id"].nunique()), len(names), names, all_wards))
    frame = pd.DataFrame.from_records(rows, columns=columns)
    # Most frequent theme first (its passages over both kinds), then recommendations before proposals.
    weight = frame.groupby("theme_id")["passages"].transform("sum")
    frame = frame.assign(_w=weight, _k=frame["kind"].map({k: i for i, k in enumerate(TAG_KINDS)}),
                         _n=[vn_sort_key(n) for n in frame["theme"]])
    frame = frame.sort_values(["_w", "_n", "_k"], ascending=[False, True, True], kind="stable")
    return frame.drop(columns=["_w", "_k", "_n"]).reset_index(drop=True)


# --- the report's data ---------------------------------------------------------------------------

@dataclass
class ReportData:
    """Everything a report shows, computed once as of a time (for the city, or one unit)."""

    course: Course
    as_of: dt.datetime
    figures: Completeness
    themes: ThemeFigures
    missing: pd.DataFrame
    unit: Unit | None = None
    theme_filter: list[int] | None = None
    unit_filter: list[int] | None = None
    unit_kinds: dict[int, str] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, Any]:
        """City (or unit) totals of the unit figures."""
        sums = self.figures.totals()
        sums["units"] = int(len(self.figures.units))
        return sums

    def topic_rows(self) -> list[dict[str, Any]]:
        """Per topic over the units of the report, in topic order."""
        frame = self.figures.topic_totals().set_index("topic_id") if len(self.figures.topics) else None
        rows = []
        for topic in self.figures.topic_list:
            base = {"topic_id": topic.id, "position": topic.position, "title": topic.title}
            if frame is not None and topic.id in frame.index:
                r = frame.loc[topic.id]
                base.update({c: int(r[c]) for c in ("expected", "submitted", "on_time", "late", "extension",
                                                    "missing", "exempt")})
                base["percent"] = None if pd.isna(r["percent"]) else float(r["percent"])
            else:
                base.update({c: 0 for c in ("expected", "submitted", "on_time", "late", "extension", "missing",
                                            "exempt")})
                base["percent"] = None
            rows.append(base)
        return rows

    @property
    def place_word(self) -> str:
        """“phường, xã” when every unit of the report is a ward, else “đơn vị”."""
        kinds = set(self.unit_kinds.values())
        return "phường, xã" if kinds and kinds <= WARD_KINDS else "điểm cầu"


def build_report_data(course: Course, as_of: dt.datetime | None = None, unit_ids: Iterable[int] | None = None,
                      theme_ids: Iterable[int] | None = None, unit: Unit | None = None,
                      with_missing: bool = True) -> ReportData:
    """Compute the report's figures: units and topics from `completeness`, themes from `theme_figures`.

    `with_missing=False` skips the per-trainee list of who has not handed in (pages' previews).
    """
    unit_ids = [unit.id] if unit is not None else (None if unit_ids is None else sorted(set(unit_ids)))
    theme_list = None if theme_ids is None else sorted(set(theme_ids))
    figures = completeness(course, as_of, unit_ids)
    themes = theme_figures(course, figures.as_of, unit_ids, theme_list)
    ids = figures.units["unit_id"].tolist()
    missing = trainee_states(course, ids, figures.as_of, states=("missing", "extension")) if ids and with_missing else \
        pd.DataFrame(columns=["unit_id", "full_name", "username", "topic_position", "topic_title", "state",
                              "due_at"])
    kinds: dict[int, str] = ({uid: kind for uid, kind in db.session.execute(select(Unit.id, Unit.kind).where(Unit.id.in_(ids)))}
                             if ids else {})
    return ReportData(course=course, as_of=figures.as_of, figures=figures, themes=themes, missing=missing,
                      unit=unit, theme_filter=theme_list, unit_filter=unit_ids, unit_kinds=kinds)


def file_name(data: ReportData, fmt: str) -> str:
    """Download name: bao-cao-lop-<id>[-<unit code>]-<yyyymmdd-HHMM>.<fmt>."""
    stamp = to_local(data.as_of).strftime("%Y%m%d-%H%M")
    unit = f"-{data.unit.code}" if data.unit is not None else ""
    return f"bao-cao-lop-{data.course.id}{unit}-{stamp}.{fmt}"
