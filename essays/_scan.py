"""Photos and scanned pages to text, inside the extraction child (`essays._extract_worker`).

Each page is decoded (Pillow; HEIC through pillow-heif), checked against a pixel cap before
its pixels are read (a 100 000 x 100 000 PNG is a few KB), turned upright with Tesseract's
orientation detection, straightened (deskew by projection profile) and read by Tesseract
(Vietnamese model) in a process of its own with its own memory, CPU and time limits. The
pages are joined into one PDF (the straightened pages) and small JPEG previews are made for
the reading view. Nothing here talks to Flask or the database.
"""

from __future__ import annotations

import csv
import io
import os
import re
import resource
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np
import pillow_heif
from PIL import Image, ImageOps

pillow_heif.register_heif_opener()

MAX_IMAGE_PIXELS = 50_000_000  # a 48 MP phone photo passes; a decompression bomb does not
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
MAX_PAGES = 30
OCR_LONG_SIDE = 2400  # pixels: an A4 page at ~200 dpi, what Tesseract reads best at ~10-12 pt
PREVIEW_LONG_SIDE = 1100
PDF_RENDER_DPI = 200
MIN_LETTERS = 100  # fewer recognised letters on all pages: not a readable essay
MIN_CONFIDENCE = 55.0  # mean word confidence (0-100) below this: blur, darkness or handwriting
SCANNED_PAGE_LETTERS = 10
IMAGE_FORMATS = {"png": {"PNG"}, "jpeg": {"JPEG", "MPO"}, "heic": {"HEIF", "HEIC"}}


class ScanRefused(Exception):
    """A scan we will not take; `code` is a key of extraction.MESSAGES, `page` 1-based or None."""

    def __init__(self, code: str, detail: str = "", page: int | None = None) -> None:
        super().__init__(code)
        self.code, self.detail, self.page = code, detail, page


@dataclass
class ScanOptions:
    """What the parent asks for: the Tesseract program and the per-page limits."""

    tesseract: str = "tesseract"
    language: str = "vie"
    page_memory_mb: int = 768
    page_cpu_s: int = 40
    page_timeout_s: float = 60
    read_text: bool = True  # False: a handwritten essay handed in to be read by a person
    max_pages: int = MAX_PAGES

    @classmethod
    def from_dict(cls, values: dict | None) -> "ScanOptions":
        known = {k: v for k, v in (values or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Page:
    """One page: its image (grey, upright) and, for PDF pages with a text layer, that text."""

    image: Image.Image
    text: str | None = None
    rotated: int = 0
    skew: float = 0.0
    confidences: list[float] = field(default_factory=list)


# --- decoding --------------------------------------------------------------------------
def open_image(data: bytes, kind: str, number: int) -> Image.Image:
    """Decode a photo into a grey image the right way up as the camera saw it (EXIF)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in IMAGE_FORMATS.get(kind, ()):
                raise ScanRefused("corrupt", f"{image.format} is not {kind}", number)
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS or max(width, height) > 30_000:
                raise ScanRefused("image_too_large", f"{width}x{height}", number)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ScanRefused("image_too_large", str(exc), number) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ScanRefused("corrupt", repr(exc), number) from None
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return _fit(image.convert("L"), OCR_LONG_SIDE)


def _fit(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def pdf_pages(data: bytes, first_number: int, max_pages: int = MAX_PAGES) -> list[Page]:
    """The pages of a PDF: its text layer where it has one, else the page rendered at 200 dpi."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ScanRefused("corrupt", str(exc), first_number) from None
    pages: list[Page] = []
    try:
        if len(pdf) > max_pages:
            raise ScanRefused("too_many_pages", f"{len(pdf)} pages")
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            width, height = page.get_size()
            scale = min(PDF_RENDER_DPI / 72, OCR_LONG_SIDE / max(width, height, 1))
            bitmap = page.render(scale=scale, grayscale=True)
            image = bitmap.to_pil().convert("L")
            page.close()
            has_text = sum(c.isalpha() for c in text) >= SCANNED_PAGE_LETTERS
            pages.append(Page(image=image, text=text if has_text else None))
    finally:
        pdf.close()
    return pages


# --- turning and straightening ---------------------------------------------------------
def _limits(memory_mb: int, cpu_s: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    return apply


def _tesseract(args: list[str], options: ScanOptions, number: int) -> subprocess.CompletedProcess:
    # One thread: the web process's cores are shared, and Tesseract's OpenMP threads were
    # measured to cost more CPU per page than they save in time.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_THREAD_LIMIT": "1", "LC_ALL": "C"}
    if os.environ.get("TESSDATA_PREFIX"):  # a model folder of a Tesseract installed by hand
        env["TESSDATA_PREFIX"] = os.environ["TESSDATA_PREFIX"]
    try:
        return subprocess.run([options.tesseract, *args], capture_output=True, env=env, check=False,
                              timeout=options.page_timeout_s,
                              preexec_fn=_limits(options.page_memory_mb, options.page_cpu_s))
    except subprocess.TimeoutExpired:
        raise ScanRefused("ocr_timeout", "tesseract timed out", number) from None
    except OSError as exc:
        raise ScanRefused("no_ocr", repr(exc), number) from None


def orientation(path: str, options: ScanOptions, number: int) -> int:
    """Degrees to turn the page counter-clockwise to make it upright (Tesseract OSD), 0 if unsure."""
    proc = _tesseract([path, "stdout", "--psm", "0"], options, number)
    out = proc.stdout.decode("utf-8", "replace")
    rotate = re.search(r"Rotate: (\d+)", out)
    confidence = re.search(r"Orientation confidence: ([\d.]+)", out)
    if proc.returncode != 0 or not rotate or not confidence or float(confidence.group(1)) < 1.0:
        return 0
    return int(rotate.group(1)) % 360


def skew_angle(image: Image.Image) -> float:
    """The small angle (degrees, counter-clockwise) that makes the text lines horizontal."""
    small = _fit(image, 900)
    ink = Image.fromarray(((np.asarray(small) < 128) * 255).astype(np.uint8))

    def score(angle: float) -> float:
        rows = np.asarray(ink.rotate(angle, resample=Image.Resampling.NEAREST)).sum(axis=1, dtype=np.float64)
        return float(np.square(np.diff(rows)).sum())

    best = max(np.arange(-10, 10.01, 1.0), key=score)
    return float(max(np.arange(best - 0.8, best + 0.81, 0.2), key=score))


def straighten(page: Page, workdir: str, options: ScanOptions, number: int) -> None:
    """Turn the page upright, then rotate away the skew (in place)."""
    path = os.path.join(workdir, f"osd-{number}.png")
    _fit(page.image, 1400).save(path)  # orientation needs no fine detail: half the pixels, less CPU
    page.rotated = orientation(path, options, number)
    if page.rotated:
        # OSD's "Rotate" is clockwise; Pillow turns counter-clockwise.
        page.image = page.image.rotate(-page.rotated, expand=True)
    page.skew = skew_angle(page.image)
    if abs(page.skew) >= 0.3:
        page.image = page.image.rotate(page.skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


# --- reading ---------------------------------------------------------------------------
def read_page(page: Page, workdir: str, options: ScanOptions, number: int) -> str:
    """Tesseract's text of one page; word confidences go to `page.confidences`."""
    path = os.path.join(workdir, f"page-{number}.png")
    base = os.path.join(workdir, f"out-{number}")
    page.image.save(path)
    proc = _tesseract([path, base, "-l", options.language, "--psm", "3", "txt", "tsv"], options, number)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        if "Failed loading language" in err or "Error opening data file" in err:
            raise ScanRefused("no_ocr", err[:300], number)
        if proc.returncode < 0:
            raise ScanRefused("ocr_timeout", f"signal {-proc.returncode}", number)
        raise ScanRefused("corrupt", err[:300], number)
    with open(base + ".tsv", encoding="utf-8", errors="replace", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            word, conf = (row.get("text") or "").strip(), row.get("conf") or "-1"
            if row.get("level") == "5" and word and float(conf) >= 0:
                page.confidences.append(float(conf))
    with open(base + ".txt", encoding="utf-8", errors="replace") as f:
        return f.read()


def _jpeg(image: Image.Image, long_side: int, quality: int) -> bytes:
    out = io.BytesIO()
    _fit(image, long_side).save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def joined_pdf(pages: list[Page]) -> bytes:
    """One PDF of the (straightened) page images, in order, at about 200 dpi."""
    images = [page.image for page in pages]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=PDF_RENDER_DPI,
                   quality=80)
    return out.getvalue()


def collect_pages(parts: list[tuple[str, bytes]], max_pages: int = MAX_PAGES) -> list[Page]:
    """Every page of every file, in the order given."""
    pages: list[Page] = []
    for kind, data in parts:
        if kind == "pdf":
            pages.extend(pdf_pages(data, len(pages) + 1, max_pages))
        else:
            pages.append(Page(image=open_image(data, kind, len(pages) + 1)))
        if len(pages) > max_pages:
            raise ScanRefused("too_many_pages", f"more than {max_pages} pages")
    return pages


def scan(parts: list[tuple[str, bytes]], options: ScanOptions, *, join: bool) -> tuple[dict, list[bytes]]:
    """Read the files' pages; return the JSON part of the result and the binary blobs.

    Blobs: the joined PDF first (when `join`), then one JPEG preview per page.
    """
    pages = collect_pages(parts, options.max_pages)
    texts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="thuhoach-ocr-") as workdir:
        for number, page in enumerate(pages, start=1):
            if page.text is not None:
                texts.append(page.text)
                continue
            straighten(page, workdir, options, number)
            texts.append(read_page(page, workdir, options, number) if options.read_text else "")
            for name in os.listdir(workdir):
                os.unlink(os.path.join(workdir, name))
    confidences = [c for page in pages for c in page.confidences]
    mean = round(sum(confidences) / len(confidences), 1) if confidences else None
    blobs = [joined_pdf(pages)] if join else []
    blobs += [_jpeg(page.image, PREVIEW_LONG_SIDE, 70) for page in pages]
    meta = {"pages": len(pages), "ocr_pages": sum(page.text is None for page in pages),
            "rotated": [page.rotated for page in pages], "skew": [round(page.skew, 1) for page in pages]}
    return {"raw": "\n\n".join(texts), "confidence": mean, "meta": meta, "joined": join}, blobs
