"""The bulk writer behind rebuild() writes what Whoosh's own writer writes, only faster."""

import unicodedata
from collections import Counter

import pytest
from whoosh.filedb.filestore import FileStorage
from whoosh.index import open_dir
from whoosh.writing import SegmentWriter

from search import EssayIndex
from search.analysis import (
    BigramAnalyzer,
    ExactAnalyzer,
    ExactBigramAnalyzer,
    FoldedAnalyzer,
    document_terms,
)
from search.bulk import BulkWriter
from search.index import essay_fields
from search.schema import build_schema

ODD_TEXTS = [
    "",
    " ,.;- ",
    "Một",
    unicodedata.normalize("NFD", "Hòa bình, hoà bình và HOÀ BÌNH ở Thừa Thiên Huế."),
    "số số số số; chuyển đổi số, chuyển đổi số. résumé café_2025",
]


def analyzer_terms(text):
    exact = Counter(t.text for t in ExactAnalyzer()(text))
    folded = Counter(t.text for t in FoldedAnalyzer()(text))
    bigrams, exact_bigrams = {}, {}
    for t in BigramAnalyzer()(text, positions=True):
        bigrams.setdefault(t.text, []).append(t.pos)
    for t in ExactBigramAnalyzer()(text, positions=True):
        exact_bigrams.setdefault(t.text, []).append(t.pos)
    return exact, folded, bigrams, exact_bigrams


@pytest.mark.parametrize("case", range(len(ODD_TEXTS) + 3))
def test_document_terms_are_what_the_four_analyzers_yield(case, sample_essays):
    text = ODD_TEXTS[case] if case < len(ODD_TEXTS) else sample_essays[case]["text"]
    exact, folded, bigrams, exact_bigrams = document_terms(text)

    def as_lists(pairs):
        return {gram: [at] if isinstance(at, int) else at for gram, at in pairs.items()}

    assert (exact, folded, as_lists(bigrams), as_lists(exact_bigrams)) == analyzer_terms(text)


@pytest.fixture
def mixed_essays(sample_essays, make_essay):
    """Long real essays, 300 short ones (so common terms fill several 128-posting blocks) and
    essays with empty or missing fields."""
    words = " ".join(e["text"] for e in sample_essays[:20]).split()
    short = [
        make_essay(f"s{i}", " ".join(words[i * 37 : i * 37 + 60]), trainee=None, themes="a,b")
        for i in range(300)
    ]
    odd = [make_essay(f"o{i}", text) for i, text in enumerate(ODD_TEXTS)]
    return sample_essays[:30] + short + odd


def segment_files(folder, writer_class, essays):
    storage = FileStorage(str(folder))
    storage.create()
    ix = storage.create_index(build_schema())
    writer = writer_class(ix, compound=False)
    for essay in essays:
        writer.add_document(**essay_fields(essay))
    writer.commit()
    (segment,) = ix._segments()
    prefix = f"{ix.indexname}_{segment.segid}"
    return {p.name[len(prefix) :]: p.read_bytes() for p in folder.iterdir() if p.name.startswith(prefix)}


def test_bulk_writer_writes_byte_for_byte_the_files_of_whoosh(tmp_path, mixed_essays):
    expected = segment_files(tmp_path / "whoosh", SegmentWriter, mixed_essays)
    written = segment_files(tmp_path / "bulk", BulkWriter, mixed_essays)
    assert {".pst", ".trm", "._stored.col", "._bigrams_len.col"} <= set(expected)
    assert sorted(written) == sorted(expected)
    for suffix, data in expected.items():
        assert written[suffix] == data, suffix


def test_bulk_writer_refuses_boosts(tmp_path, make_essay):
    storage = FileStorage(str(tmp_path))
    storage.create()
    writer = BulkWriter(storage.create_index(build_schema()))
    with pytest.raises(ValueError):
        writer.add_document(_boost=2.0, **essay_fields(make_essay("a", "văn bản")))
    writer.cancel()


def live_segments(index: EssayIndex) -> int:
    ix = open_dir(str(index.path / (index.path / "CURRENT").read_text().strip()))
    with ix.reader() as reader:
        return len(reader.leaf_readers())


QUERIES = ["việt nam", "chien tranh the gioi", "hòa bình", "thuỷ điện", '"nhà nước" OR "chính phủ"', "lịch sử -chiến", "chiến*"]


@pytest.mark.parametrize("sample_index", ["whoosh"], indirect=True)
def test_rebuild_in_several_segments_answers_as_in_one(tmp_path, sample_essays, sample_index):
    index = EssayIndex(tmp_path / "ix")
    assert index.rebuild(sample_essays, limitmb=2) == len(sample_essays)
    assert live_segments(index) > 3 and live_segments(sample_index) == 1
    assert index.all_ids() == sample_index.all_ids()
    for query in QUERIES:
        got, want = index.search(query, per_page=50), sample_index.search(query, per_page=50)
        assert got.ids == want.ids, query
        assert [s for _, s in got.hits] == pytest.approx([s for _, s in want.hits]), query
        assert index.count_by("unit_code", query) == sample_index.count_by("unit_code", query)
    index.close()


def test_failed_rebuild_keeps_the_live_generation(tmp_path, sample_essays):
    index = EssayIndex(tmp_path / "ix")
    index.rebuild(sample_essays[:5])
    live = (index.path / "CURRENT").read_text()

    def failing():
        yield from sample_essays[:40]  # several segments at limitmb=1 before the failure
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        index.rebuild(failing(), limitmb=1)
    assert (index.path / "CURRENT").read_text() == live
    assert len(list(index.path.glob("gen-*"))) == 2  # the empty first one and the live one
    assert index.doc_count() == 5
    index.close()
