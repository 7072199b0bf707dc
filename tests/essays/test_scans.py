"""Photographed and scanned essays: Tesseract reads pages the tests draw themselves (DejaVu, Vietnamese).

OCR is slow (seconds a page on a shared machine): pages are small and the cases few; several
checks share one upload.
"""
from __future__ import annotations

import io
import random
import re
import struct
import unicodedata
import zlib
from pathlib import Path

import pillow_heif
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from flask import url_for
from sqlalchemy import select

from essays import indexing
from essays.extraction import MESSAGES, check_upload, extract_scan, ocr_available
from essays.models import Essay, EssayVersion, EssayVersionFile
from lms.db import db

from essay_world import NOTHING, counts, make_world

pillow_heif.register_heif_opener()  # the tests save iPhone-style .heic photos
pytestmark = pytest.mark.skipif(not ocr_available(), reason="tesseract-ocr and tesseract-ocr-vie are not installed")

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
PAGE_ONE = ("Qua học tập nghị quyết, tôi nhận thức sâu sắc hơn trách nhiệm của người đảng viên "
            "trong xây dựng chính quyền đô thị. Kiến nghị: tăng cường đối thoại với nhân dân.")
PAGE_TWO = ("Đề xuất đẩy mạnh chuyển đổi số ở phường, nâng cao chất lượng sinh hoạt chi bộ "
            "và chăm lo đời sống người dân vùng sông nước miền Tây.")


def render_page(text: str, *, width: int = 1100, size: int = 30) -> Image.Image:
    """A white page with the text in DejaVu Serif, wrapped, as a printer would put it."""
    font = ImageFont.truetype(FONT, size)
    probe = ImageDraw.Draw(Image.new("L", (10, 10)))
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if probe.textlength(candidate, font=font) > width - 160:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    page = Image.new("L", (width, 120 + len(lines) * int(size * 1.7)), 255)
    draw = ImageDraw.Draw(page)
    for i, row in enumerate(lines):
        draw.text((80, 60 + i * int(size * 1.7)), row, font=font, fill=0)
    return page


def as_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def phone_photo(text: str) -> bytes:
    """The page slightly turned, soft and grainy, greyish paper, saved as a JPEG."""
    page = render_page(text).rotate(4, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(0.8))
    rng = random.Random(7)
    noisy = bytes(max(0, min(255, p - 25 + rng.randint(-18, 18))) for p in page.tobytes())
    return as_bytes(Image.frombytes("L", page.size, noisy).convert("RGB"), "JPEG", quality=75)


def syllables(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFC", text).lower())


def share_read_right(expected: str, got: str) -> float:
    """Share of the expected syllables (tone marks included) found, in order, in the recognised text."""
    want, have = syllables(expected), syllables(got)
    # Longest common subsequence: a missed or misread syllable costs one, the rest still count.
    prev = [0] * (len(have) + 1)
    for w in want:
        cur = [0]
        for j, h in enumerate(have, start=1):
            cur.append(prev[j - 1] + 1 if w == h else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1] / len(want)


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming 10 gigapixels, with a few bytes of data: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) \
        + chunk(b"IEND", b"")


@pytest.fixture
def world(make_unit, make_user, make_course, enroll):
    return make_world(make_unit, make_user, make_course, enroll)


def essay_url(world) -> str:
    return f"/api/v1/courses/{world.course.id}/topics/{world.topic.id}/essay"


def put_files(client, headers, world, files: list[tuple[str, bytes]]):
    return client.put(essay_url(world), headers=headers, content_type="multipart/form-data",
                      data={"file": [(io.BytesIO(data), name) for name, data in files]})


def fetch(client, url: str):
    """GET a file response and close it (send_file keeps the stored file open until then)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


# --- recognition -----------------------------------------------------------------------------
def test_a_soft_turned_phone_photo_is_read_with_its_tone_marks():
    photo = phone_photo(PAGE_ONE)
    result = extract_scan([(check_upload("ảnh bài.jpg", photo), photo)])
    share = share_read_right(PAGE_ONE, result.text)
    print(f"\nsyllables read right (photo, turned 4°, blurred, noise): {share:.1%}; "
          f"mean confidence {result.confidence}")
    assert result.ocr and result.confidence is not None and result.confidence > 70
    assert share >= 0.9
    assert "nghị quyết" in result.text and "đối thoại" in result.text
    assert result.meta["skew"][0] != 0  # it was straightened
    assert len(pdfium.PdfDocument(result.pdf)) == 1 and len(result.previews) == 1


def test_several_pages_in_order_rotated_page_upright_then_shown_downloaded_and_found(
        app, client, auth, api_token, world):
    # Page 1 is a PNG named .jpg (read as what it is); page 2 an iPhone HEIC photographed sideways.
    page_one = as_bytes(render_page(PAGE_ONE), "PNG")
    page_two = as_bytes(render_page(PAGE_TWO).rotate(90, expand=True).convert("RGB"), "HEIF", quality=80)
    response = put_files(client, api_token(world.trainee), world, [("trang 1.jpg", page_one), ("trang 2.heic", page_two)])
    assert response.status_code == 200, response.json
    essay_id = response.json["essay_id"]

    body = client.get(f"/api/v1/essays/{essay_id}", headers=api_token(world.reviewer)).json
    assert body["ocr"] is True and 70 < body["ocr_confidence"] <= 100 and body["needs_reading"] is False
    assert body["pages"] == 2
    text = body["text"]
    assert text.index("nghị quyết") < text.index("chuyển đổi số")  # in the order sent
    share = share_read_right(PAGE_ONE + " " + PAGE_TWO, text)
    print(f"\nsyllables read right (2 pages, the second turned 90°): {share:.1%}")
    assert share >= 0.9

    version = db.session.scalars(select(EssayVersion).where(EssayVersion.essay_id == essay_id)).one()
    assert version.kind == "pdf" and version.file_name == "trang 1.pdf"
    originals = version.files_of("original")
    assert [(o.kind, o.file_name) for o in originals] == [("png", "trang 1.jpg"), ("heic", "trang 2.heic")]

    auth.login(world.officer)
    joined = fetch(client, f"/essays/{essay_id}/versions/1/file")
    assert joined.status_code == 200 and joined.mimetype == "application/pdf"
    assert len(pdfium.PdfDocument(joined.data)) == 2
    original = fetch(client, f"/essays/{essay_id}/versions/1/original/2")
    assert original.status_code == 200 and original.data == page_two
    html = client.get(f"/essays/{essay_id}/versions/1").get_data(as_text=True)
    assert 'id="page-images"' in html and "nhận dạng từ ảnh" in html and "độ tin cậy trung bình" in html
    preview = fetch(client, f"/essays/{essay_id}/versions/1/page/2")
    assert preview.mimetype == "image/jpeg"
    upright = Image.open(io.BytesIO(preview.data))
    assert upright.width > upright.height  # the sideways page was turned back (the text is wider than tall)
    assert client.get(f"/essays/{essay_id}/versions/1/page/3").status_code == 404
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.other_officer)
    assert client.get(f"/essays/{essay_id}/versions/1/page/1").status_code == 404
    client.post("/logout", data={"csrf_token": auth.csrf()})

    indexing.drain_all(app)
    hits = client.get("/api/v1/search", query_string={"q": "chuyen doi so"},
                      headers=api_token(world.reviewer)).json
    assert [h["essay_id"] for h in hits["hits"]] == [essay_id]
    # Every page that shows the text says it was recognised, with the confidence.
    auth.login(world.reviewer)
    for endpoint in ("essay_search.essay", "tagging.read"):
        html = client.get(url_for(endpoint, essay_id=essay_id)).get_data(as_text=True)
        assert 'id="ocr-notice"' in html and "độ tin cậy trung bình" in html, endpoint


# --- refusals --------------------------------------------------------------------------------
def test_a_blank_page_is_refused_with_what_to_do_and_nothing_is_stored(client, api_token, world):
    blank = as_bytes(Image.new("L", (900, 1200), 250), "PNG")
    response = put_files(client, api_token(world.trainee), world, [("trang.png", blank)])
    assert response.status_code == 422 and response.json["error"]["code"] == "unreadable"
    message = response.json["error"]["message"]
    assert "ánh sáng ban ngày" in message and "cán bộ đơn vị" in message
    assert counts() == NOTHING


@pytest.mark.parametrize("files, code, phrase", [
    ([("bom.png", huge_png())], "image_too_large", "quá lớn"),
    ([("anh.jpg", "<html><body>Bài thu hoạch</body></html>".encode())], "type_mismatch", "trang web HTML"),
    ([("bai.docx", b"PK\x03\x04" + b"\x00" * 64), ("trang 2.jpg", b"\xff\xd8\xff" + b"\x00" * 64)],
     "corrupt", "hỏng"),
], ids=["image bomb", "html named .jpg", "broken docx among photos"])
def test_bad_photos_are_refused_in_vietnamese_and_nothing_is_stored(client, api_token, world, files, code, phrase):
    response = put_files(client, api_token(world.trainee), world, files)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == code and phrase in response.json["error"]["message"]
    assert counts() == NOTHING


def test_a_word_file_among_photos_is_refused(client, api_token, world, essay_docx):
    photo = as_bytes(Image.new("L", (50, 50), 255), "JPEG")
    response = put_files(client, api_token(world.trainee), world, [("bai.docx", essay_docx), ("trang.jpg", photo)])
    assert response.status_code == 422 and response.json["error"]["code"] == "mixed_files"
    assert counts() == NOTHING


def test_without_tesseract_the_app_says_so_plainly(app, client, auth, api_token, world):
    app.config["TESSERACT_CMD"] = "/khong/co/tesseract"
    photo = as_bytes(render_page(PAGE_ONE), "PNG")
    response = put_files(client, api_token(world.trainee), world, [("trang.png", photo)])
    assert response.status_code == 422 and response.json["error"]["message"] == MESSAGES["no_ocr"]
    assert counts() == NOTHING
    auth.login(world.trainee)
    html = client.get(f"/courses/{world.course.id}/topics/{world.topic.id}/submit").get_data(as_text=True)
    assert 'id="ocr-missing"' in html


# --- the officer's handwritten hand-in -------------------------------------------------------
def handwriting() -> bytes:
    """Scribbles no OCR can read: what a handwritten page looks like to Tesseract."""
    rng = random.Random(3)
    page = Image.new("L", (900, 1200), 255)
    draw = ImageDraw.Draw(page)
    for y in range(100, 1100, 45):
        x = 60
        while x < 820:
            step = rng.randint(8, 20)
            draw.line((x, y + rng.randint(-8, 8), x + step, y + rng.randint(-8, 8)), fill=40, width=3)
            x += step
    return as_bytes(page, "JPEG", quality=85)


def test_the_officer_hands_in_a_handwritten_essay_for_the_board_to_read(app, client, auth, world):
    auth.login(world.officer)
    url = f"/courses/{world.course.id}/topics/{world.topic.id}/trainees/{world.trainee.id}/submit"
    page = client.get(url).get_data(as_text=True)
    assert 'name="handwritten"' in page
    response = auth.post(url, data={"handwritten": "y",
                                    "file": [(io.BytesIO(handwriting()), "trang 1.jpg"),
                                             (io.BytesIO(handwriting()), "trang 2.jpg")]},
                         content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    essay = db.session.scalars(select(Essay).where(Essay.trainee_id == world.trainee.id)).one()
    version = essay.current_version
    assert version.needs_reading and not version.ocr and version.uploaded_by_id == world.officer.id
    assert len(version.files_of("page")) == 2
    essay_id = essay.id
    db.session.rollback()  # end the test's read transaction before the indexer writes
    # Counted as handed in on the unit's page.
    unit_page = client.get("/unit-essays").get_data(as_text=True)
    assert f"/essays/{essay_id}" in unit_page
    # Left out of search, listed for the Board.
    indexing.drain_all(app)
    assert str(essay_id) not in indexing.get_index(app).all_ids()
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.reviewer)
    listing = client.get("/essays/needs-reading").get_data(as_text=True)
    assert world.trainee.full_name in listing
    shown = client.get(f"/essays/{essay_id}/versions/1").get_data(as_text=True)
    assert "cần đọc trực tiếp" in shown
    assert client.get(f"/api/v1/essays/{essay_id}").json["needs_reading"] is True
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.officer)
    assert client.get("/essays/needs-reading").status_code == 403


# --- many pages: read by the worker ---------------------------------------------------------
def submit_page_files(auth, url: str, files: list[tuple[str, bytes]]):
    return auth.post(url, data={"file": [(io.BytesIO(data), name) for name, data in files]},
                     content_type="multipart/form-data")


def test_many_pages_are_read_by_the_worker_while_the_page_says_dang_nhan_dang(app, client, auth, world):
    from lms.jobs import run_one_job

    app.config["SCAN_INLINE_PAGES"] = 1  # two pages are "many" here: OCR is slow
    auth.login(world.trainee)
    url = f"/courses/{world.course.id}/topics/{world.topic.id}/submit"
    response = submit_page_files(auth, url, [("trang 1.png", as_bytes(render_page(PAGE_ONE), "PNG")),
                                             ("trang 2.png", as_bytes(render_page(PAGE_TWO), "PNG"))])
    assert response.status_code == 302 and "/essays/scan-jobs/" in response.location
    waiting = client.get(response.location).get_data(as_text=True)
    assert "Đang nhận dạng" in waiting and 'http-equiv="refresh"' in waiting
    assert counts() == NOTHING  # staged outside the file store until read
    db.session.rollback()
    assert run_one_job(app) == 1
    done = client.get(response.location)
    assert done.status_code == 302 and "/essays/" in done.location
    version = db.session.scalars(select(EssayVersion)).one()
    assert version.ocr and version.text.index("nghị quyết") < version.text.index("chuyển đổi số")
    assert not any((Path(app.config["DATA_DIR"]) / "scan-jobs").iterdir())


def test_a_refusal_in_the_worker_is_shown_and_nothing_is_stored(app, client, auth, world):
    from lms.jobs import run_one_job

    app.config["SCAN_INLINE_PAGES"] = 1
    auth.login(world.trainee)
    url = f"/courses/{world.course.id}/topics/{world.topic.id}/submit"
    blank = as_bytes(Image.new("L", (600, 800), 250), "PNG")
    response = submit_page_files(auth, url, [("trang 1.png", blank), ("trang 2.png", blank)])
    assert response.status_code == 302
    db.session.rollback()
    run_one_job(app)
    html = client.get(response.location).get_data(as_text=True)
    assert "ánh sáng ban ngày" in html and "Lỗi khi xử lý" not in html and "http-equiv" not in html
    assert counts() == NOTHING
    assert not any((Path(app.config["DATA_DIR"]) / "scan-jobs").iterdir())
