"""Print text-extraction cost: subprocess overhead and seconds per MB for .docx and .pdf, and
seconds per page for photographed and scanned essays read by Tesseract.

Run: .venv/bin/python bench/extract.py         (PDF figures need LibreOffice to make the file)
     .venv/bin/python bench/extract.py scans   (only photos/scans; needs tesseract-ocr, tesseract-ocr-vie)
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docx  # noqa: E402

from essays import _extract_worker  # noqa: E402
from essays.extraction import check_upload, extract_scan, extract_text, ocr_available  # noqa: E402

WORDS = (
    "học tập nghị quyết Đảng nhận thức sâu sắc vai trò lãnh đạo bản thân rèn luyện đạo đức "
    "lối sống trách nhiệm đảng viên nhân dân phát triển kinh tế xã hội hoà bình hợp tác "
    "đổi mới công tác cán bộ thực hiện nhiệm vụ chính trị địa phương tư tưởng Hồ Chí Minh"
).split()


def essay_docx(paragraphs: int, seed: int = 1) -> bytes:
    """A text-only .docx with varied Vietnamese sentences (so it compresses like real prose)."""
    rng = random.Random(seed)
    document = docx.Document()
    for _ in range(paragraphs):
        document.add_paragraph(" ".join(rng.choice(WORDS) for _ in range(60)) + ".")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median_of(fn, repeat: int = 9) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def to_pdf(data: bytes) -> bytes | None:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "essay.docx"
        src.write_bytes(data)
        subprocess.run([exe, "--headless", f"-env:UserInstallation=file://{tmp}/profile",
                        "--convert-to", "pdf", "--outdir", tmp, str(src)],
                       check=True, capture_output=True, timeout=600)
        return (Path(tmp) / "essay.pdf").read_bytes()


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(f"python {sys.version.split()[0]}, {sys.executable}")
    small_txt = ("Bài thu hoạch ngắn về học tập nghị quyết của Đảng. " * 5).encode()
    bare = median_of(lambda: subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True))
    inproc = median_of(lambda: _extract_worker._extract("txt", small_txt))
    sub = median_of(lambda: extract_text(small_txt, "txt"))
    print(f"interpreter start (-I -S)         {bare * 1000:7.1f} ms")
    print(f"tiny .txt in process              {inproc * 1000:7.1f} ms")
    print(f"tiny .txt via extract_text        {sub * 1000:7.1f} ms  (overhead {1000 * (sub - inproc):.1f} ms)")
    small_docx = essay_docx(20)
    print(f"small .docx (4 pages) extract     {median_of(lambda: extract_text(small_docx, 'docx')) * 1000:7.1f} ms")

    for paragraphs in (2000, 8000):
        data = essay_docx(paragraphs)
        mb = len(data) / 1e6
        check = best_of(lambda: check_upload("bai.docx", data, 50 * 1024 * 1024))
        seconds = best_of(lambda: extract_text(data, "docx", timeout=120), 3)
        chars = len(extract_text(data, "docx", timeout=120).text)
        print(f".docx {mb:5.2f} MB ({chars / 1e6:.1f} M chars): check_upload {check * 1000:6.1f} ms, "
              f"extract {seconds:6.2f} s = {seconds / mb:5.2f} s/MB")

        pdf = to_pdf(data) if paragraphs == 2000 else None
        if pdf:
            pmb = len(pdf) / 1e6
            seconds = best_of(lambda: extract_text(pdf, "pdf", timeout=120), 3)
            pages = extract_text(pdf, "pdf", timeout=120).pages
            print(f".pdf  {pmb:5.2f} MB ({pages} pages): extract {seconds:6.2f} s = {seconds / pmb:5.2f} s/MB, "
                  f"{1000 * seconds / pages:.1f} ms/page")


FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def a4_page(seed: int, dpi: int = 200):
    """A printed A4 page of Vietnamese prose (12 pt DejaVu Serif, ~35 lines) as a grey image."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    font = ImageFont.truetype(FONT, int(12 / 72 * dpi))
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    y, margin, line = dpi, dpi, ""
    while y < height - dpi:
        word = rng.choice(WORDS)
        if draw.textlength(f"{line} {word}", font=font) > width - 2 * margin:
            draw.text((margin, y), line, font=font, fill=0)
            y, line = y + int(font.size * 1.5), word
        else:
            line = f"{line} {word}".strip()
    return page


def phone_photo(seed: int) -> bytes:
    """The page photographed: 12 MP, turned 3°, soft, grainy, JPEG (what a phone sends)."""
    from PIL import Image, ImageFilter

    page = a4_page(seed, dpi=300).rotate(3, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=235)
    photo = Image.new("L", (3024, 4032), 120)
    page = page.resize((2800, int(2800 * page.height / page.width)))
    photo.paste(page, (112, 20))
    photo = photo.filter(ImageFilter.GaussianBlur(1.2)).convert("RGB")
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def scanned_pdf(pages: int) -> bytes:
    """An image-only PDF of `pages` A4 pages scanned at 200 dpi."""
    images = [a4_page(seed) for seed in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=200)
    return buf.getvalue()


def scans() -> None:
    if not ocr_available():
        print("tesseract-ocr with tesseract-ocr-vie is not installed: no OCR figures")
        return
    print(f"load average before: {open('/proc/loadavg').read().split()[:3]}")
    photos = [phone_photo(seed) for seed in range(3)]
    parts = [(check_upload("anh.jpg", p), p) for p in photos]
    start = time.perf_counter()
    result = extract_scan(parts)
    seconds = time.perf_counter() - start
    print(f"3 phone photos (12 MP JPEG, {sum(map(len, photos)) / 1e6:.1f} MB): {seconds:6.2f} s = "
          f"{seconds / 3:5.2f} s/page, mean confidence {result.confidence}, {len(result.text)} chars")
    for pages in (1, 5):
        pdf = scanned_pdf(pages)
        start = time.perf_counter()
        result = extract_scan([("pdf", pdf)])
        seconds = time.perf_counter() - start
        print(f"scanned PDF, {pages} page(s) at 200 dpi ({len(pdf) / 1e6:.1f} MB): {seconds:6.2f} s = "
              f"{seconds / pages:5.2f} s/page, mean confidence {result.confidence}")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    if sys.argv[1:] != ["scans"]:
        main()
    scans()
