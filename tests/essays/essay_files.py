"""Builders of real essay files (python-docx, hand-made ODF, Pillow) and their expected text."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import docx
from docx.oxml.ns import qn

ESSAY = (
    "Qua đợt học tập nghị quyết, tôi nhận thức sâu sắc hơn về vai trò lãnh đạo của Đảng. "
    "Bản thân tôi sẽ rèn luyện đạo đức, lối sống; giữ gìn hoà bình và hòa hợp trong tập thể."
)
TITLE = "BÀI THU HOẠCH LỚP BỒI DƯỠNG ĐẢNG VIÊN MỚI"
HEADER = "Trường Chính trị tỉnh Đắk Lắk"
FOOTER = "Học viên: Nguyễn Thị Ánh Tuyết – Đơn vị: Phường Tân Lợi"
TABLE = [["Ưu điểm", "Khuyết điểm"], ["Nghiêm túc, đúng giờ", "Chưa chủ động phát biểu"]]

# Legacy-font text, as Word stores it: one Latin-1 character per legacy byte.
TCVN3_TITLE = "Bµi thu ho¹ch"  # Bài thu hoạch
TCVN3_BODY = (
    "Sau khi häc tËp nghÞ quyÕt, t«i nhËn thøc s©u s¾c h¬n vÒ vai trß l·nh ®¹o cña §¶ng "
    "vµ tr¸ch nhiÖm cña ng\u00adêi ®¶ng viªn."
)
VNI_TITLE = "Baøi thu hoaïch"
VNI_BODY = (
    "Sau khi hoïc taäp nghò quyeát, toâi nhaän thöùc saâu saéc hôn veà vai troø laõnh ñaïo "
    "cuûa Ñaûng vaø traùch nhieäm cuûa ngöôøi ñaûng vieân."
)
LEGACY_EXPECTED_BODY = (
    "Sau khi học tập nghị quyết, tôi nhận thức sâu sắc hơn về vai trò lãnh đạo của Đảng "
    "và trách nhiệm của người đảng viên."
)


def build_docx(paragraphs: list[str], *, header: str | None = None, footer: str | None = None,
               table: list[list[str]] | None = None, font: str | None = None) -> bytes:
    """A .docx made by python-docx, optionally with a header, footer, table and legacy font."""
    document = docx.Document()
    if header:
        document.sections[0].header.paragraphs[0].text = header
    if footer:
        document.sections[0].footer.paragraphs[0].text = footer
    for text in paragraphs:
        run = document.add_paragraph().add_run(text)
        if font:  # how a .VnTime/VNI-Times document looks inside
            run.font.name = font
            run._element.rPr.rFonts.set(qn("w:eastAsia"), font)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def to_cp1258(text: str) -> bytes:
    """Encode like Windows' Vietnamese code page: base letter + combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", ch)
            tones = [m for m in decomposed if m in "\u0300\u0301\u0303\u0309\u0323"]
            base = unicodedata.normalize("NFC", "".join(m for m in decomposed if m not in tones))
            out += base.encode("cp1258") + "".join(tones).encode("cp1258")
    return bytes(out)


ODT_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
)


def build_odt(content_body: str, *, header: str = "", footer: str = "") -> bytes:
    """An .odt assembled by hand: mimetype first and stored, as ODF requires."""
    import zipfile

    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODT_NS} office:version="1.3">'
        f"<office:body><office:text>{content_body}</office:text></office:body></office:document-content>"
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {ODT_NS} office:version="1.3">'
        '<office:master-styles><style:master-page style:name="Standard">'
        f"<style:header><text:p>{header}</text:p></style:header>"
        f"<style:footer><text:p>{footer}</text:p></style:footer>"
        "</style:master-page></office:master-styles></office:document-styles>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("styles.xml", styles)
        zf.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return buf.getvalue()


def image_only_pdf() -> bytes:
    """A 'scanned' PDF: one page that is a picture, no text layer (as phones produce)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    for y in range(150, 1600, 60):  # lines of "handwriting"
        draw.line((120, y, 1100, y + 5), fill="black", width=4)
    buf = io.BytesIO()
    image.save(buf, "PDF", resolution=150)
    return buf.getvalue()
