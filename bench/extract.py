"""Print text-extraction cost: subprocess overhead and seconds per MB for .docx and .pdf.

Run: .venv/bin/python bench/extract.py   (PDF figures need LibreOffice to make the file)
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
from essays.extraction import check_upload, extract_text  # noqa: E402

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


if __name__ == "__main__":
    main()
