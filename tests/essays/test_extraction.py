"""Upload checks and text extraction on real files, Vietnamese text throughout."""

from __future__ import annotations

import io
import os
import signal
import unicodedata
import zipfile

import pytest

from essays import extraction
from essays.extraction import (
    MESSAGES,
    ExtractionError,
    check_upload,
    clean_filename,
    extract_text,
)
from essays.vntext import fix_legacy_encoding, normalize_text

from essay_files import (
    ESSAY,
    FOOTER,
    HEADER,
    LEGACY_EXPECTED_BODY,
    TABLE,
    TCVN3_BODY,
    TCVN3_TITLE,
    TITLE,
    VNI_BODY,
    VNI_TITLE,
    build_docx,
    build_odt,
    image_only_pdf,
    to_cp1258,
)

LIMIT = 20 * 1024 * 1024
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def read(filename: str, data: bytes):
    """What the upload view will do: check, then extract."""
    return extract_text(data, check_upload(filename, data, LIMIT))


def refused(filename: str, data: bytes, *, max_bytes: int = LIMIT, **kwargs) -> ExtractionError:
    with pytest.raises(ExtractionError) as info:
        kind = check_upload(filename, data, max_bytes)
        extract_text(data, kind, **kwargs)
    error = info.value
    assert error.message == str(error)
    assert any(ch in error.message for ch in "ăâđêôơưạảấầẩậắằẳặẹẻếềểệịọỏốồổộớờởợụủứừửữự")
    return error


def rezip(docx_bytes: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
          compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Copy a .docx, swapping or adding parts."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, data in add.items():
            dst.writestr(name, data)
    return out.getvalue()


def document_xml(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W_NS}>'
            f"<w:body>{body}</w:body></w:document>").encode()


# --- formats -------------------------------------------------------------------------------
def test_docx_gives_body_table_header_and_footer(essay_docx):
    result = read("Bài thu hoạch.docx", essay_docx)
    text = result.text
    for expected in (TITLE, ESSAY, HEADER, FOOTER, *TABLE[0], *TABLE[1]):
        assert expected in text
    assert text.index(HEADER) < text.index(TITLE) < text.index(FOOTER)
    assert f"{TITLE}\n\n{ESSAY}" in text  # paragraphs stay separated by a blank line
    assert result.warnings == () and result.legacy_encoding is None


def test_nfd_text_comes_back_nfc_and_tone_placement_is_kept():
    nfd = unicodedata.normalize("NFD", ESSAY)
    data = build_docx([nfd, "Hoà bình và hòa hợp, thuỷ chung và thủy chung."])
    text = read("nfd.docx", data).text
    assert unicodedata.is_normalized("NFC", text)
    assert ESSAY in text
    # Old ("hoà") and new ("hòa") tone placement are both correct spellings: keep as typed.
    assert "Hoà bình và hòa hợp, thuỷ chung và thủy chung." in text


@pytest.mark.parametrize(("title", "body", "encoding", "font"), [
    (TCVN3_TITLE, TCVN3_BODY, "TCVN3", ".VnTime"),
    (VNI_TITLE, VNI_BODY, "VNI", "VNI-Times"),
])
def test_legacy_font_docx_is_converted_with_a_warning(title, body, encoding, font):
    data = build_docx([title, body], font=font, header=HEADER)
    result = read("cu.docx", data)
    assert result.text == f"{HEADER}\n\nBài thu hoạch\n\n{LEGACY_EXPECTED_BODY}"
    assert result.legacy_encoding == encoding
    assert len(result.warnings) == 1 and "Unicode" in result.warnings[0]


def test_odt_gives_paragraphs_table_header_and_footer():
    body = (
        f"<text:h>{TITLE}</text:h><text:p>{ESSAY[:40]}<text:span>{ESSAY[40:]}</text:span></text:p>"
        "<table:table><table:table-row><table:table-cell><text:p>Ưu điểm</text:p></table:table-cell>"
        "<table:table-cell><text:p>Khuyết<text:s/>điểm</text:p></table:table-cell></table:table-row></table:table>"
        '<text:p>Ghi chú<office:annotation><text:p>bình luận ẩn</text:p></office:annotation> cuối bài.</text:p>'
    )
    text = read("bai.odt", build_odt(body, header=HEADER, footer=FOOTER)).text
    assert text.split("\n\n") == [HEADER, TITLE, ESSAY, "Ưu điểm", "Khuyết điểm", "Ghi chú cuối bài.", FOOTER]


def test_pdf_from_libreoffice(office_files):
    result = read("bai.pdf", office_files["pdf"])
    flat = " ".join(result.text.split())
    for expected in (TITLE, ESSAY, HEADER, FOOTER, "Ưu điểm", "Chưa chủ động phát biểu"):
        assert expected in flat
    assert result.pages == 1


def test_doc_word_97(office_files):
    text = read("bai.doc", office_files["doc"]).text
    assert f"{TITLE}\n\n{ESSAY}" in text
    for cell in (*TABLE[0], *TABLE[1]):
        assert cell in text.split("\n\n")


def test_word_97_file_named_docx_is_read_as_doc(office_files):
    assert check_upload("bai.docx", office_files["doc"], LIMIT) == "doc"


@pytest.mark.parametrize("encode", [
    lambda s: s.encode("utf-8"),
    lambda s: b"\xef\xbb\xbf" + s.encode("utf-8"),
    lambda s: s.encode("utf-16"),  # with BOM
    lambda s: to_cp1258(s),
], ids=["utf-8", "utf-8-bom", "utf-16", "cp1258"])
def test_txt_encodings(encode):
    source = f"{TITLE}\r\n\r\n{ESSAY}\r\n"
    result = read("bai.txt", encode(source))
    assert result.text == f"{TITLE}\n\n{ESSAY}"
    assert result.legacy_encoding is None


def test_txt_in_tcvn3_bytes_is_converted():
    data = f"{TCVN3_TITLE}\n{TCVN3_BODY}".encode("latin-1")
    result = read("bai.txt", data)
    assert result.text == f"Bài thu hoạch\n{LEGACY_EXPECTED_BODY}"
    assert result.legacy_encoding == "TCVN3"


# --- hostile or unusable files ---------------------------------------------------------------
def test_empty_file():
    assert refused("bai.docx", b"").code == "empty_file"


def test_file_over_the_limit(essay_docx):
    error = refused("bai.docx", essay_docx, max_bytes=10_000)
    assert error.code == "too_large" and "9 KB" in error.message


@pytest.mark.parametrize(("filename", "data", "looks_like"), [
    ("bai.docx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "ảnh PNG"),
    ("bai.pdf", "<!DOCTYPE html><html><body>Bài thu hoạch</body></html>".encode(), "trang web HTML"),
    ("bai.docx", "Bài thu hoạch viết thường".encode(), "tệp văn bản thuần"),
    ("bai.txt", b"\x00\x01\x02binary" * 50, "tệp không xác định"),
])
def test_wrong_content_behind_a_right_extension(filename, data, looks_like):
    error = refused(filename, data)
    assert error.code == "type_mismatch" and looks_like in error.message


def test_unsupported_extension():
    assert refused("bai.rtf", b"{\\rtf1 Bai}").code == "unsupported_type"


@pytest.mark.parametrize("filename", [
    "../../etc/passwd.docx", "C:\\x\\y.docx", "bai\x00.docx", "bai\n.docx", "bai\u202excod.docx",
])
def test_filenames_with_path_parts_or_control_characters(filename, essay_docx):
    assert refused(filename, essay_docx).code == "bad_filename"


def test_zip_bomb_by_compression_ratio(essay_docx):
    huge = document_xml("<w:p><w:r><w:t>" + "a" * (30 * 1024 * 1024) + "</w:t></w:r></w:p>")
    assert refused("bom.docx", rezip(essay_docx, {"word/document.xml": huge})).code == "zip_bomb"


def test_zip_bomb_by_whole_archive_ratio(essay_docx):
    """Before: 150 zero-filled 1 MB members (each under the per-member check) were accepted."""
    many = {f"word/media/image{i}.bin": bytes(1024 * 1024) for i in range(150)}
    bomb = rezip(essay_docx, add=many)
    assert len(bomb) < 400 * 1024
    assert refused("nhieu-nho.docx", bomb).code == "zip_bomb"


def test_zip_bomb_by_member_count(essay_docx):
    many = {f"word/media/image{i}.png": b"x" for i in range(1200)}
    assert refused("nhieu.docx", rezip(essay_docx, add=many)).code == "zip_bomb"


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    f"<w:document {W_NS}><w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>"
)


def test_billion_laughs_is_refused_before_parsing(essay_docx):
    bomb = rezip(essay_docx, {"word/document.xml": BILLION_LAUGHS.encode()})
    with pytest.raises(ExtractionError) as info:
        check_upload("cuoi.docx", bomb, LIMIT)
    assert info.value.code == "xml_entities"


def test_billion_laughs_past_the_prolog_scan_is_refused_by_the_parser(essay_docx):
    # A long comment pushes the DOCTYPE beyond what check_upload scans; defusedxml stops it.
    padded = BILLION_LAUGHS.replace("?>", "?><!--" + "x" * 70_000 + "-->", 1)
    bomb = rezip(essay_docx, {"word/document.xml": padded.encode()})
    assert refused("cuoi.docx", bomb).code == "xml_entities"


@pytest.mark.parametrize("change", ["vba", "docm"])
def test_macro_enabled_content(essay_docx, change):
    if change == "vba":
        data = rezip(essay_docx, add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"})
    else:
        with zipfile.ZipFile(io.BytesIO(essay_docx)) as zf:
            types = zf.read("[Content_Types].xml").replace(
                b"officedocument.wordprocessingml.document.main+xml",
                b"ms-word.document.macroEnabled.main+xml")
        data = rezip(essay_docx, {"[Content_Types].xml": types})
    assert refused("macro.docx", data).code == "macro"


def test_password_protected_docx_container():
    # Word saves a password-protected .docx as an OLE file holding "EncryptedPackage".
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le")
    assert refused("matkhau.docx", ole + b"\x00" * 1024).code == "encrypted"


def test_encrypted_pdf(office_files):
    assert refused("matkhau.pdf", office_files["encrypted_pdf"]).code == "encrypted"


def test_truncated_pdf(office_files):
    data = office_files["pdf"]
    assert refused("dut.pdf", data[: len(data) // 2]).code == "truncated"


def test_garbage_pdf_with_an_end_marker():
    assert refused("hong.pdf", b"%PDF-1.7\n" + b"rac " * 500 + b"\n%%EOF\n").code == "corrupt"


def test_scanned_pdf_asks_for_the_word_file():
    error = refused("scan.pdf", image_only_pdf())
    assert error.code == "scanned" and ".docx" in error.message


@pytest.mark.parametrize("paragraphs", [[], ["   ", "\u200b\u00ad"], ["Bài thu hoạch"]])
def test_empty_or_nearly_empty_essay(paragraphs):
    assert refused("rong.docx", build_docx(paragraphs)).code == "no_text"


def test_txt_in_an_unknown_encoding():
    data = b"Bai thu hoach \x81\x8d\x8f\x90 " * 20
    assert refused("la.txt", data).code == "encoding"


def test_memory_limit_stops_a_heavy_document(essay_docx):
    # 200k tiny paragraphs: an XML tree needing far more than 100 MB. check_upload would
    # already refuse this one for its ratio; the worker's limit is the net behind it.
    body = "<w:p><w:r><w:t>Đoạn văn ngắn.</w:t></w:r></w:p>" * 200_000
    data = rezip(essay_docx, {"word/document.xml": document_xml(body)})
    with pytest.raises(ExtractionError) as info:
        extract_text(data, "docx", memory_mb=100)
    assert info.value.code == "too_complex"


def slow_docx(essay_docx: bytes) -> bytes:
    """A document that takes tens of milliseconds to read: a warm worker reads a small one in ~1 ms."""
    body = "<w:p><w:r><w:t>Đoạn văn ngắn của bài thu hoạch.</w:t></w:r></w:p>" * 30_000
    return rezip(essay_docx, {"word/document.xml": document_xml(body)})


def test_timeout_kills_the_worker(essay_docx):
    with pytest.raises(ExtractionError) as info:
        extract_text(slow_docx(essay_docx), "docx", timeout=0.001)
    assert info.value.code == "timeout"


def _idle_pids() -> set[int]:
    return {worker.proc.pid for worker in extraction._POOL.idle}


def test_a_pooled_worker_reads_the_next_file_and_a_killed_one_is_replaced(essay_docx):
    first = read("bai.docx", essay_docx).text
    pids = _idle_pids()
    assert pids
    assert read("bai.docx", essay_docx).text == first
    assert _idle_pids() == pids  # the same child read the second file

    # A timeout kills the child that had the file; the next file gets a working one.
    with pytest.raises(ExtractionError) as info:
        extract_text(slow_docx(essay_docx), "docx", timeout=0.001)
    assert info.value.code == "timeout"
    assert read("bai.docx", essay_docx).text == first

    # Children that died while idle (OOM killer, an operator): every file is still read, and
    # each dead child is dropped when it comes up (other tests may have left several idle).
    killed = _idle_pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    for _ in range(len(killed) + 1):
        assert read("bai.docx", essay_docx).text == first
    assert not _idle_pids() & killed


def test_memory_error_ends_the_pooled_worker(essay_docx):
    body = "<w:p><w:r><w:t>Đoạn văn ngắn.</w:t></w:r></w:p>" * 200_000
    heavy = rezip(essay_docx, {"word/document.xml": document_xml(body)})
    read("bai.docx", essay_docx)
    before = _idle_pids()
    with pytest.raises(ExtractionError):
        extract_text(heavy, "docx", memory_mb=100)
    assert read("bai.docx", essay_docx).text
    assert len(before - _idle_pids()) >= 1  # the child that failed is not kept


def test_every_pdf_gets_a_fresh_child(office_files):
    data = office_files["pdf"]
    before = _idle_pids()
    assert read("bai.pdf", data).text == read("bai.pdf", data).text
    assert _idle_pids() == before  # PDFs never go through (or into) the pool


def test_every_code_has_a_vietnamese_message():
    assert all(message.endswith(".") for message in MESSAGES.values())


# --- names and text ---------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "clean"), [
    ("Bài thu hoạch Đợt 1 - Đỗ Đức Đạt.docx", "Bài thu hoạch Đợt 1 - Đỗ Đức Đạt.docx"),
    ("../../etc/passwd.docx", "passwd.docx"),
    ("C:\\Users\\Hà\\Bài thu hoạch.docx", "Bài thu hoạch.docx"),
    ("bai\x00\x1f\u202e.docx", "bai.docx"),
    ('a<b>:"c"|?*.pdf', "a_b___c____.pdf"),
    ("CON.docx", "_CON.docx"),
    ("  ...docx", "bai-thu-hoach.docx"),
    ("bai thu hoach. . .", "bai thu hoach"),
    ("   .docx ", "bai-thu-hoach.docx"),
    (unicodedata.normalize("NFD", "Hoà bình.odt"), "Hoà bình.odt"),
    ("x" * 300 + ".docx", "x" * 115 + ".docx"),
])
def test_clean_filename(raw, clean):
    assert clean_filename(raw) == clean


def test_normalize_text():
    messy = (
        "  Ho\u0300a bi\u0300nh\u00ad  la\u0300\u200b  ca\u0301i ti\u0301ch\r\n"
        "\r\n\r\n\r\n"
        "Nghi\u0323 quye\u0301\u0302t\u00a0\u00a0mo\u031b\u0301i\tđây  \n"
    )
    assert normalize_text(messy) == "Hòa bình là cái tích\n\nNghị quyết mới đây"


@pytest.mark.parametrize("text", [
    "The essay discusses naïve café culture in Noël à Paris and Größe über schöne Äpfel.",
    "Tôi là Bình © 2023, Microsoft® Word, «Bonjour» mon ami, giá 5 € ± 2°.",
    ESSAY,
    "Señor Muñoz visitó Hà Nội năm 2019 và nói: ¡qué bonito!",
])
def test_legacy_detection_leaves_normal_text_alone(text):
    assert fix_legacy_encoding(text) == (unicodedata.normalize("NFC", text), None)


def test_mixed_document_repairs_only_legacy_lines():
    text = f"{TITLE}\n{TCVN3_BODY}\n{ESSAY}"
    assert fix_legacy_encoding(text) == (f"{TITLE}\n{LEGACY_EXPECTED_BODY}\n{ESSAY}", "TCVN3")


def test_tcvn3_capitals_typed_with_vntimeh():
    assert fix_legacy_encoding("B¸O C¸O KÕT QU¶ HäC TËP")[0] == "BÁO CÁO KẾT QUẢ HỌC TẬP"
