"""Passages that look like recommendations or proposals: a pure detector and its per-version cache.

The detector reads the stored NFC text line by line. Lines under a heading such as "III. KIẾN NGHỊ,
ĐỀ XUẤT" (numbered, roman, bulleted or bare) are items until a heading of the same level or a
closing heading ("Kết luận", "Lời cảm ơn" …); outside such sections, a sentence that begins with
"(Em xin) kiến nghị / đề xuất / đề nghị" is one passage, and if it ends with ":" the list items that
follow are. "Đề nghị của …", "đề xuất này …" are nouns in narrative and are skipped.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import and_, exists, select

from lms.db import db, write_transaction
from review.tagging.models import Suggestion, SuggestionScan, Tag

DETECTOR_REVISION = "rules-1"

_BULLET = r"[-–—•+*●○▪►✓]"
_ROMAN = r"[ivxlc]{1,6}"
# Marker at the start of a line (on folded text): bullets, 1. 1) 1.2. a) a. II. PHẦN II
_MARKER_RE = re.compile(
    rf"^(?:(?P<part>(?:phan|muc|chuong)\s+(?:{_ROMAN}|\d+)\s*[.:)\-–]?)"
    rf"|(?P<roman>{_ROMAN})\s*[.)/]"
    rf"|(?P<digits>\d{{1,2}}(?:\.\d{{1,2}})*)\s*[.)/]?(?=\s)"
    rf"|(?P<letter>[a-z])\s*[)]|(?P<letterdot>[a-z])\.(?=\s)"
    rf"|(?P<bullet>{_BULLET}))\s*")
_TRIGGER = r"(?:kien nghi|de xuat|de nghi)"
_HEADING_RE = re.compile(
    rf"^(?:mot so |cac |nhung |phan |y kien |)(?P<first>{_TRIGGER})"
    rf"(?:\s*(?:,|va|-|–|/)\s*{_TRIGGER})?"
    r"(?P<rest>\s+(?:voi|doi voi|gui|len|cua|cho|ve|nham|giai phap|y kien)\b[^.:;!?]{0,60})?\s*:?\s*$")
_SUBJECT = r"(?:(?:ca nhan |ban than )?(?:em|toi|chung toi|chung em)\s+)?"
_SENTENCE_RE = re.compile(
    rf"^{_SUBJECT}(?:(?:xin|manh dan|kinh|cung|xin phep|co)\s+)*(?P<first>{_TRIGGER})\b"
    r"(?!\s+(?:cua|nay|do|tren|ay|nhu vay|duoc|da|cung|nao)\b)")
_CLOSING_RE = re.compile(
    r"^(?:ket luan|loi cam on|tai lieu tham khao|lien he ban than|bai hoc kinh nghiem|phan ket|"
    r"tren day la|em xin chan thanh cam on|xin chan thanh cam on|xin tran trong cam on|nguoi viet|"
    r"hoc vien|nguoi thu hoach|can tho, ngay|ngay \d+ thang)")
_SENTENCE_END_RE = re.compile(r"[.!?;](?=\s|$)|:(?=\s*$)")


@dataclass(frozen=True)
class Passage:
    """A detected passage: [start, end) in code points of the text, and its kind."""

    start: int
    end: int
    kind: str


def fold_same_length(text: str) -> str:
    """Lower case without diacritics, đ→d, one character per character (so offsets still fit)."""
    out = []
    for ch in text:
        if ch in "đĐ":
            out.append("d")
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        out.append(base.lower() if len(base.lower()) == 1 else ch)
    return "".join(out)


def _kind(trigger: str) -> str:
    return "proposal" if trigger == "de xuat" else "recommendation"


@dataclass
class _Line:
    start: int  # first non-space character
    end: int  # after the last non-space character
    body: int  # where the content starts after a marker
    folded: str  # folded content after the marker
    raw: str  # original text of the whole trimmed line
    marker: str | None  # "part", "roman", "digits", "letter", "bullet" or None
    level: str  # marker detail for "same level" comparisons

    @property
    def is_empty(self) -> bool:
        return self.start >= self.end


def _lines(text: str, folded: str) -> list[_Line]:
    lines, pos = [], 0
    for raw_line in text.split("\n"):
        end_of_line = pos + len(raw_line)
        start = pos + (len(raw_line) - len(raw_line.lstrip()))
        end = pos + len(raw_line.rstrip())
        body, marker, level = start, None, ""
        # Match on the slice: "^" would not match at a `pos` inside the whole text.
        match = _MARKER_RE.match(folded[start:end]) if start < end else None
        if match and start + match.end() < end:
            marker = next(k for k in ("part", "roman", "digits", "letter", "letterdot", "bullet") if match.group(k))
            if marker == "letterdot":
                marker = "letter"
            if marker == "digits":
                level = f"d{match.group('digits').count('.')}"
            elif marker == "bullet":
                level = match.group("bullet")
            else:
                level = marker
            body = start + match.end()
        lines.append(_Line(start, end, body, folded[body:end], text[start:end], marker, level))
        pos = end_of_line + 1
    return lines


def _is_heading_like(line: _Line) -> bool:
    words = line.folded.split()
    if not words or len(words) > 14 or line.raw.rstrip().endswith((".", ";", ",")):
        return False
    letters = [c for c in line.raw if c.isalpha()]
    is_upper = len(letters) >= 4 and all(c.isupper() for c in letters)
    return is_upper or line.marker in ("part", "roman") or (line.marker == "digits" and len(words) <= 8)


def _heading_trigger(line: _Line) -> str | None:
    """The trigger word when the line is a recommendations/proposals heading."""
    if line.is_empty or line.marker == "bullet":
        return None
    # Trailing emoji or arrows ("Kiến nghị 👇") do not make a heading a sentence.
    content = line.folded.strip()
    while content and not content[-1].isalnum() and content[-1] not in ".;:!?":
        content = content[:-1].rstrip()
    match = _HEADING_RE.match(content)
    if not match or len(line.folded.split()) > 12:
        return None
    return match.group("first")


def _closes_section(line: _Line, heading: _Line) -> bool:
    text = line.folded.strip()
    if _CLOSING_RE.match(text):
        return True
    if not _is_heading_like(line):
        return False
    if heading.marker in ("part", "roman") and line.marker == heading.marker:
        return True
    if heading.marker == "digits" and line.marker == "digits" and line.level <= heading.level:
        return True
    letters = [c for c in line.raw if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters) and line.marker != "bullet"


def _sentences(text: str, folded: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for match in _SENTENCE_END_RE.finditer(folded, start, end):
        spans.append((pos, match.end()))
        pos = match.end()
    if pos < end:
        spans.append((pos, end))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        if s < e:
            out.append((s, e))
    return out


def _sentence_trigger(sentence: str) -> re.Match[str] | None:
    """The trigger at the start of a sentence, or after a short opening clause ("Qua thực tế, em …")."""
    match = _SENTENCE_RE.match(sentence)
    if match:
        return match
    comma = sentence.find(", ", 0, 60)
    return _SENTENCE_RE.match(sentence[comma + 2:]) if comma > 0 else None


def find_passages(text: str) -> list[Passage]:
    """Recommendation and proposal passages of an essay text, in order."""
    folded = fold_same_length(text)
    lines = _lines(text, folded)
    found: list[Passage] = []
    section: tuple[_Line, str] | None = None  # heading line and its default kind
    list_after: str | None = None  # kind of a "… như sau:" sentence whose list follows
    for line in lines:
        if line.is_empty:
            continue
        trigger = _heading_trigger(line)
        if trigger is not None and not line.folded.rstrip().endswith(tuple(".;")):
            section, list_after = (line, _kind(trigger)), None
            continue
        if section is not None and _closes_section(line, section[0]):
            section = None
        if section is not None:
            if line.raw.endswith(":"):
                continue  # "Em xin có một số kiến nghị như sau:", "a) Đối với Trung ương:"
            own = _SENTENCE_RE.match(line.folded)
            kind = _kind(own.group("first")) if own else section[1]
            found.append(Passage(line.body, line.end, kind))
            continue
        if list_after is not None:
            if line.marker is not None:
                own = _SENTENCE_RE.match(line.folded)
                found.append(Passage(line.body, line.end, _kind(own.group("first")) if own else list_after))
                continue
            list_after = None
        for s, e in _sentences(text, folded, line.body, line.end):
            match = _sentence_trigger(folded[s:e])
            if not match:
                continue
            kind = _kind(match.group("first"))
            if text[s:e].rstrip().endswith(":") and e >= line.end - 1:
                # The sentence announces a list: the items are the passages.
                list_after = kind
                continue
            found.append(Passage(s, e, kind))
    return found


# --- cache per version --------------------------------------------------------------------------

def scan_version(version) -> None:
    """Compute and keep the version's suggestions once (flushes); tagged spans are not offered."""
    if db.session.get(SuggestionScan, version.id) is not None:
        return
    tags = db.session.execute(select(Tag.id, Tag.start_offset, Tag.end_offset)
                              .where(Tag.version_id == version.id)).all()
    for passage in find_passages(version.text):
        taken = next((t.id for t in tags if t.start_offset < passage.end and t.end_offset > passage.start), None)
        db.session.add(Suggestion(version_id=version.id, start_offset=passage.start, end_offset=passage.end,
                                  kind=passage.kind, status="accepted" if taken else "open", tag_id=taken))
    db.session.add(SuggestionScan(version_id=version.id, detector=DETECTOR_REVISION))
    db.session.flush()


def suggestions_for(version) -> list:
    """The version's suggestions, computed once and kept in the suggestion table (flushes)."""
    scan_version(version)
    return list(db.session.scalars(select(Suggestion).where(Suggestion.version_id == version.id)
                                   .order_by(Suggestion.start_offset)))


def open_suggestions_query():
    """Suggestions still to decide whose span no tag of their version overlaps."""
    tagged = exists().where(and_(Tag.version_id == Suggestion.version_id, Tag.start_offset < Suggestion.end_offset,
                                 Tag.end_offset > Suggestion.start_offset))
    return select(Suggestion).where(Suggestion.status == "open", ~tagged)


def essay_suggestions(essay, top: int = 3) -> list[dict]:
    """The current version's open suggestions as JSON-ready dicts, themes ranked by the course's model."""
    from review.tagging.theme_model import model_for

    version = essay.current_version
    if version is None:
        return []
    if db.session.get(SuggestionScan, version.id) is None:
        version_id = version.id
        db.session.commit()  # end the GET's read transaction before writing
        with write_transaction():
            scan_version(db.session.get(type(version), version_id))
            db.session.commit()
        version = essay.current_version
    rows = db.session.scalars(open_suggestions_query().where(Suggestion.version_id == version.id)
                              .order_by(Suggestion.start_offset)).all()
    text = version.text
    ranked = model_for(essay.course_id).rank([text[s.start_offset:s.end_offset] for s in rows], top=top)
    return [{"id": s.id, "start": s.start_offset, "end": s.end_offset, "kind": s.kind,
             "text": text[s.start_offset:s.end_offset],
             "themes": [{"id": t.theme_id, "score": t.score} for t in themes]}
            for s, themes in zip(rows, ranked)]
