"""Child process for `essays.extraction.extract_text`: files in, one JSON result out per file.

`serve` runs in a process forked by a multiprocessing fork server that has this module and
the parsers preloaded (starting a fresh interpreter per file cost ~90% of an upload's
extraction time, and a fork per file still ~half of it). The fork server has one thread, so
forking it is safe, unlike forking a threaded web worker. Limits are set before each file.
Result: {"ok": true, "text": ...} or {"ok": false, "code": ...}.
"""

from __future__ import annotations

import json
import re
import resource

# zipfile, subprocess, tempfile and the parsers are imported where used; the fork server
# preloads them (PRELOAD below), so a child starts with them already imported.

# Same caps as check_upload, enforced again on the real (not declared) sizes.
MAX_XML_PART = 25 * 1024 * 1024
MAX_PDF_PAGES = 1000
SCANNED_PAGE_LETTERS = 10  # a page with an image and fewer letters is an image of text


class Refused(Exception):
    """A file we will not read; `code` is a key of extraction.MESSAGES."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _set_limits(memory_mb: int, cpu_s: int) -> None:
    # Soft limits only: the soffice fallback raises the AS limit for itself (LibreOffice maps
    # far more address space than it uses), and a pooled worker must be able to renew its CPU
    # allowance for the next file, which a lowered hard limit would forbid to a non-root user.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024, hard))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + cpu_s
    if cpu_hard != resource.RLIM_INFINITY:
        soft = min(soft, cpu_hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))


# --- XML helpers -----------------------------------------------------------------------
def _parse_xml(xml: bytes):
    """Parse with defusedxml: no DTD at all, so no entity expansion or external fetches."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        return fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Refused("xml_entities", repr(exc)) from None
    except ParseError as exc:
        raise Refused("corrupt", f"XML: {exc}") from None


def _read_member(zf, name: str) -> bytes:
    with zf.open(name) as member:
        data = member.read(MAX_XML_PART + 1)
    if len(data) > MAX_XML_PART:  # the declared size lied
        raise Refused("zip_bomb", f"{name} larger than declared")
    return data


def _walk(root, skip: frozenset, handle) -> None:
    """Depth-first walk without recursion (deep nesting cannot blow the C stack)."""
    stack = [(root, False)]
    while stack:
        el, closing = stack.pop()
        if closing:
            handle(el, "end")
            continue
        if el.tag in skip:
            if el.tail:
                handle(el, "tail")
            continue
        handle(el, "start")
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))


# --- .docx -----------------------------------------------------------------------------
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
DOCX_MAIN_TYPES = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
)
# mc:Fallback repeats the text of text boxes already read from mc:Choice; deleted
# revisions are w:delText (never read); field codes are w:instrText (never read).
DOCX_SKIP = frozenset({MC + "Fallback"})


def _docx_part_text(xml: bytes) -> str:
    out: list[str] = []

    def handle(el, event):
        if event == "start":
            if el.tag == W + "t" and el.text:
                out.append(el.text)
            elif el.tag == W + "tab":
                out.append("\t")
            elif el.tag in (W + "br", W + "cr"):
                out.append("\n")
        elif event == "end" and el.tag == W + "p":
            out.append("\n\n")

    _walk(_parse_xml(xml), DOCX_SKIP, handle)
    return "".join(out)


def _docx_text(data: bytes) -> str:
    """Body, tables, headers, footers, footnotes and endnotes of a .docx, in reading order."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        main = "word/document.xml"
        if "[Content_Types].xml" in names:
            types = _parse_xml(_read_member(zf, "[Content_Types].xml"))
            for override in types.iter(CT + "Override"):
                if override.get("ContentType") in DOCX_MAIN_TYPES:
                    main = override.get("PartName", "").lstrip("/")
        if main not in names:
            raise Refused("corrupt", f"no main part {main}")

        def parts(kind: str) -> list[str]:
            found = [n for n in names if re.fullmatch(rf"word/{kind}\d*\.xml", n)]
            return sorted(found, key=lambda n: int(re.sub(r"\D", "", n) or 0))

        def unique_texts(part_names: list[str]) -> list[str]:
            # header1..3 are first/even/default variants that often repeat one line
            seen: list[str] = []
            for name in part_names:
                text = _docx_part_text(_read_member(zf, name)).strip()
                if text and text not in seen:
                    seen.append(text)
            return seen

        chunks = unique_texts(parts("header"))
        chunks.append(_docx_part_text(_read_member(zf, main)))
        chunks += unique_texts([n for n in ("word/footnotes.xml", "word/endnotes.xml") if n in names])
        chunks += unique_texts(parts("footer"))
    return "\n\n".join(chunks)


# --- .odt ------------------------------------------------------------------------------
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
ODT_SKIP = frozenset({
    OFFICE + "annotation", TEXT + "tracked-changes", TEXT + "note-citation",
    TEXT + "sequence-decls", TEXT + "variable-decls",
})
ODT_BLOCKS = frozenset({TEXT + "p", TEXT + "h"})


def _odt_element_text(root) -> str:
    out: list[str] = []

    def handle(el, event):
        if event == "start":
            if el.tag == TEXT + "s":
                out.append(" " * int(el.get(TEXT + "c", "1") or 1))
            elif el.tag == TEXT + "tab":
                out.append("\t")
            elif el.tag == TEXT + "line-break":
                out.append("\n")
            if el.text:
                out.append(el.text)
        elif event == "end":
            if el.tag in ODT_BLOCKS:
                out.append("\n\n")
            if el.tail:
                out.append(el.tail)
        elif event == "tail":
            out.append(el.tail)

    _walk(root, ODT_SKIP, handle)
    return "".join(out)


def _odt_text(data: bytes) -> str:
    """Paragraphs, headings, tables, notes and page headers/footers of an .odt."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        if "content.xml" not in names:
            raise Refused("corrupt", "no content.xml")
        body = _parse_xml(_read_member(zf, "content.xml")).find(f"{OFFICE}body")
        headers: list[str] = []
        footers: list[str] = []
        if "styles.xml" in names:
            styles = _parse_xml(_read_member(zf, "styles.xml"))
            for page in styles.iter(STYLE + "master-page"):
                for child in page:
                    target = headers if child.tag.startswith(STYLE + "header") else (
                        footers if child.tag.startswith(STYLE + "footer") else None)
                    if target is None:
                        continue
                    text = _odt_element_text(child).strip()
                    if text and text not in target:
                        target.append(text)
    main = _odt_element_text(body) if body is not None else ""
    # Element tails outside paragraphs are indentation whitespace; normalisation drops it.
    return "\n\n".join(headers + [main] + footers)


# --- .pdf ------------------------------------------------------------------------------
def _pdf_text(data: bytes) -> tuple[str, dict]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise Refused("encrypted", str(exc)) from None
        raise Refused("corrupt", str(exc)) from None
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            raise Refused("corrupt", "no pages")
        if n_pages > MAX_PDF_PAGES:
            raise Refused("too_complex", f"{n_pages} pages")
        texts: list[str] = []
        image_pages = 0
        for index in range(n_pages):
            page = pdf[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            letters = sum(c.isalpha() for c in text)
            if letters < SCANNED_PAGE_LETTERS:
                has_image = any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
                image_pages += has_image
            page.close()
            texts.append(text)
    finally:
        pdf.close()
    # Most pages are pictures without a text layer: a scan or a phone photo saved as PDF.
    if image_pages and image_pages * 2 >= n_pages:
        raise Refused("scanned", f"{image_pages}/{n_pages} image-only pages")
    # PDF text is visual lines; a blank line between pages keeps page breaks visible.
    return "\n\n".join(texts), {"pages": n_pages}


# --- .doc ------------------------------------------------------------------------------
_TABLE_ROW = re.compile(r"^\|(.*)\|\s*$")


def _antiword(path: str) -> str:
    import subprocess

    proc = subprocess.run(
        ["antiword", "-w", "0", "-m", "UTF-8.txt", path],
        capture_output=True, timeout=60, check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        if "encrypt" in err.lower():
            raise Refused("encrypted", err)
        raise Refused("corrupt", err)
    lines = []
    for line in proc.stdout.decode("utf-8", "replace").split("\n"):
        row = _TABLE_ROW.match(line)
        if row:  # antiword draws tables as |cell|cell|; keep one cell per paragraph
            lines.extend(cell.strip() + "\n" for cell in row.group(1).split("|"))
        else:
            lines.append(line)
    return "\n".join(lines)


def _soffice(path: str, workdir: str) -> str:
    # LibreOffice maps gigabytes of address space; the CPU limit and the parent's
    # timeout still hold.
    import os
    import shutil
    import subprocess

    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    proc = subprocess.run(
        [exe, "--headless", "--norestore", "--nolockcheck",
         f"-env:UserInstallation=file://{workdir}/profile",
         "--convert-to", "txt:Text (encoded):UTF8", "--outdir", workdir, path],
        capture_output=True, timeout=120, check=False,
    )
    out = os.path.join(workdir, "essay.txt")
    if proc.returncode != 0 or not os.path.exists(out):
        raise Refused("corrupt", proc.stderr.decode("utf-8", "replace"))
    with open(out, "rb") as f:
        return f.read().decode("utf-8-sig", "replace")


def _doc_text(data: bytes) -> str:
    """Word 97-2003 text via antiword (fast, UTF-8), else LibreOffice headless."""
    import os
    import shutil
    import tempfile

    use_antiword = shutil.which("antiword") is not None
    if not use_antiword and not (shutil.which("soffice") or shutil.which("libreoffice")):
        raise Refused("no_converter")
    with tempfile.TemporaryDirectory(prefix="thuhoach-doc-") as workdir:
        path = os.path.join(workdir, "essay.doc")
        with open(path, "wb") as f:
            f.write(data)
        return _antiword(path) if use_antiword else _soffice(path, workdir)


# --- .txt ------------------------------------------------------------------------------
def _txt_text(data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM, else TCVN3/VNI bytes, else cp1258."""
    from essays import vntext

    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    if b"\x00" in data:
        raise Refused("encoding", "NUL bytes without a UTF-16 BOM")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Legacy Vietnamese 8-bit files: TCVN3/VNI tables are written as Latin-1 characters.
    latin1 = data.decode("latin-1")
    if vntext.fix_legacy_encoding(latin1)[1]:
        return latin1
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError:
        raise Refused("encoding", "not UTF-8, legacy Vietnamese or cp1258") from None


# --- main ------------------------------------------------------------------------------
def _extract(kind: str, data: bytes) -> dict:
    from essays import vntext

    meta: dict = {}
    if kind == "docx":
        raw = _docx_text(data)
    elif kind == "odt":
        raw = _odt_text(data)
    elif kind == "pdf":
        raw, meta = _pdf_text(data)
    elif kind == "doc":
        raw = _doc_text(data)
    elif kind == "txt":
        raw = _txt_text(data)
    else:
        raise Refused("corrupt", f"unknown kind {kind}")
    text, legacy = vntext.prepare_text(raw)
    if vntext.count_letters(text) < 20:
        raise Refused("no_text", f"{vntext.count_letters(text)} letters")
    return {"ok": True, "text": text, "legacy_encoding": legacy, "pages": meta.get("pages"), "meta": meta}


def _scan_result(parts: list[tuple[str, bytes]], options: dict) -> tuple[dict, list[bytes]]:
    """Photos and image-only PDFs: OCR page by page (essays._scan), then the same checks as text."""
    from essays import _scan, vntext

    scan_options = _scan.ScanOptions.from_dict(options)
    found, blobs = _scan.scan(parts, scan_options, join=bool(options.get("join")))
    text, legacy = vntext.prepare_text(found.pop("raw"))
    letters = vntext.count_letters(text)
    confidence = found["confidence"]
    if scan_options.read_text and found["meta"]["ocr_pages"] and (
            letters < _scan.MIN_LETTERS or confidence is None or confidence < _scan.MIN_CONFIDENCE):
        raise Refused("unreadable", f"{letters} letters, mean confidence {confidence}")
    if scan_options.read_text and letters < 20:
        raise Refused("no_text", f"{letters} letters")
    result = {"ok": True, "text": text, "legacy_encoding": legacy, "pages": found["meta"]["pages"],
              "meta": found["meta"], "ocr": bool(found["meta"]["ocr_pages"]) and scan_options.read_text,
              "confidence": confidence, "joined": found["joined"], "blobs": len(blobs)}
    return result, blobs


# Imported by the fork server once, so that each forked child starts with the parsers loaded.
# "__main__" too: otherwise every child re-runs the main script (gunicorn's, flask's) on start.
PRELOAD = ["__main__", "essays._extract_worker", "essays.vntext", "defusedxml.ElementTree", "zipfile", "pypdfium2",
           "subprocess", "tempfile"]
# Not preloaded: essays._scan (numpy, Pillow, pillow-heif) would add ~100 MB of address space
# to every pooled .docx child; a scan child is one-shot and pays its import (~0.3 s) beside
# seconds of OCR.


def _guarded(run, scan: bool) -> tuple[dict, list[bytes]]:
    """Run one file's work; any failure becomes a refusal the parent can name."""
    refusals: tuple[type[Exception], ...] = (Refused,)
    if scan:
        from essays._scan import ScanRefused

        refusals = (Refused, ScanRefused)
    try:
        return run()
    except refusals as exc:
        page = getattr(exc, "page", None)
        return {"ok": False, "code": getattr(exc, "code", "corrupt"), "detail": str(getattr(exc, "detail", ""))[:500], "page": page}, []
    except MemoryError:
        return {"ok": False, "code": "too_complex", "detail": "MemoryError"}, []
    except Exception as exc:  # noqa: BLE001 - any parser failure on a hostile file means "unreadable"
        return {"ok": False, "code": "corrupt", "detail": repr(exc)[:500]}, []


def _serve_one(conn, kind: str, options: dict) -> dict:
    """Read one request's files from `conn`, answer with the JSON result and any blobs."""
    if kind == "scan":
        parts = [(part_kind, conn.recv_bytes()) for part_kind in options["parts"]]
        result, blobs = _guarded(lambda: _scan_result(parts, options), scan=True)
        del parts
    else:
        data = conn.recv_bytes()
        result, blobs = _guarded(lambda: (_extract(kind, data), []), scan=False)
        del data
    conn.send_bytes(json.dumps(result, ensure_ascii=False).encode("utf-8", "replace"))
    for blob in blobs:
        conn.send_bytes(blob)
    return result


def serve(conn, max_tasks: int) -> None:
    """Entry point in the forked child: read files from `conn` until it closes, one answer each.

    Per request: (kind, memory_mb, cpu_s, options) then the bytes of each file in (one file, or
    for "scan" one per entry of options["parts"]); the JSON result out, then as many binary
    blobs as it names ("blobs": the joined PDF and page previews of a scan). The memory
    limit holds for the whole process; the CPU limit is renewed per file as "what this
    process has used so far + cpu_s" (SIGXCPU then ends it, the parent reports a timeout).
    After a MemoryError the process ends: its heap is not trusted for the next file.
    """
    import os

    os.setsid()  # a timeout then kills the whole group (antiword/soffice included)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for _ in range(max_tasks):
        try:
            kind, memory_mb, cpu_s, options = conn.recv()
            _set_limits(memory_mb, cpu_s)
            result = _serve_one(conn, kind, options or {})
        except (EOFError, OSError):
            return
        if result.get("detail") == "MemoryError":
            return
    conn.close()
