"""The suggestion detector against hand-labelled essays (precision/recall printed), and its cache."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lms.db import db
from review.tagging.models import Suggestion, SuggestionScan
from review.tagging.suggestions import Passage, find_passages, suggestions_for

DATA = Path(__file__).resolve().parent.parent / "data" / "suggestions"
LABEL_RE = re.compile(r"⟦([RP]):(.*?)⟧", re.S)
KINDS = {"R": "recommendation", "P": "proposal"}
FLOOR = 0.8


def load_labelled(path: Path) -> tuple[str, list[Passage]]:
    """The essay text without markers, and the labelled passages with their offsets in it."""
    raw, text, expected, pos = path.read_text(encoding="utf-8"), [], [], 0
    for match in LABEL_RE.finditer(raw):
        text.append(raw[pos:match.start()])
        start = sum(map(len, text))
        text.append(match.group(2))
        expected.append(Passage(start, start + len(match.group(2)), KINDS[match.group(1)]))
        pos = match.end()
    text.append(raw[pos:])
    return "".join(text), expected


def overlap(a: Passage, b: Passage) -> float:
    """Intersection over union of two spans."""
    inter = max(0, min(a.end, b.end) - max(a.start, b.start))
    return inter / (max(a.end, b.end) - min(a.start, b.start))


def score(found: list[Passage], expected: list[Passage]) -> tuple[int, int]:
    """(spans matched one-to-one with IoU >= 0.5, of those how many have the right kind)."""
    matched = kinds = 0
    free = list(expected)
    for passage in found:
        best = max(free, key=lambda e: overlap(passage, e), default=None)
        if best is not None and overlap(passage, best) >= 0.5:
            free.remove(best)
            matched += 1
            kinds += passage.kind == best.kind
    return matched, kinds


def test_labelled_set_is_big_and_varied_enough():
    files = sorted(DATA.glob("*.txt"))
    assert len(files) >= 30
    labelled = [load_labelled(f) for f in files]
    assert sum(len(e) for _, e in labelled) >= 60
    assert sum(1 for _, e in labelled if not e) >= 4  # essays with false friends only


def test_precision_and_recall_on_the_labelled_essays(capsys):
    found_total = expected_total = matched_total = kinds_total = 0
    misses = []
    for path in sorted(DATA.glob("*.txt")):
        text, expected = load_labelled(path)
        found = find_passages(text)
        matched, kinds = score(found, expected)
        found_total, expected_total = found_total + len(found), expected_total + len(expected)
        matched_total, kinds_total = matched_total + matched, kinds_total + kinds
        if matched < max(len(found), len(expected)):
            misses.append(f"{path.name}: found {len(found)}, expected {len(expected)}, matched {matched}")
    precision, recall = matched_total / found_total, matched_total / expected_total
    with capsys.disabled():
        print(f"\n[suggestions] {len(list(DATA.glob('*.txt')))} essays, {expected_total} labelled passages, "
              f"{found_total} found: precision {precision:.3f}, recall {recall:.3f}, "
              f"kind right on {kinds_total}/{matched_total} matched")
        for line in misses:
            print(f"[suggestions]   {line}")
    assert precision >= FLOOR and recall >= FLOOR
    assert kinds_total / matched_total >= 0.9


@pytest.mark.parametrize("text", ["", "\n\n", "Kiến nghị", "III. KIẾN NGHỊ\n", "👍" * 5])
def test_degenerate_texts_do_not_break_the_detector(text):
    for passage in find_passages(text):
        assert 0 <= passage.start < passage.end <= len(text)


def test_offsets_count_code_points_with_emoji_before_the_passage():
    text = "Mở đầu 😀😀. Em xin kiến nghị mở lớp tin học cho cán bộ."
    [passage] = find_passages(text)
    assert text[passage.start:passage.end] == "Em xin kiến nghị mở lớp tin học cho cán bộ."


def test_suggestions_are_computed_once_per_version_and_cached(world, essay_of):
    essay = essay_of(world.trainee_a, world.course, "Kiến nghị\n- Tăng kinh phí cho phường.\n- Đào tạo cán bộ.")
    version = essay.current_version
    first = suggestions_for(version)
    db.session.commit()
    assert [version.text[s.start_offset:s.end_offset] for s in first] == ["Tăng kinh phí cho phường.", "Đào tạo cán bộ."]
    assert db.session.get(SuggestionScan, version.id) is not None
    first[0].status = "dismissed"
    db.session.commit()
    again = suggestions_for(version)
    assert [s.status for s in again] == ["dismissed", "open"]
    assert db.session.query(Suggestion).count() == 2
