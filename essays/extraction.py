"""Checking uploaded essay files and extracting their text (no Flask here).

`check_upload` looks at the bytes only (size, magic, zip structure) and never runs a parser.
`extract_text` runs the parser in a child process (`essays._extract_worker`) with memory and
CPU limits and a timeout, because one crafted 1.4 MB .docx was measured driving every parser to
a 2 GiB cap. The child is forked from a multiprocessing fork server that has the parsers
preloaded: never from the threaded web worker itself (unsafe), and not as a fresh interpreter
per file (that start-up was ~90% of an upload's extraction time).
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "KINDS",
    "MESSAGES",
    "ExtractedText",
    "ExtractionError",
    "IMAGE_KINDS",
    "ScannedText",
    "check_upload",
    "clean_filename",
    "extract_scan",
    "extract_text",
    "ocr_available",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
IMAGE_KINDS = ("png", "jpeg", "heic")
KINDS = ("docx", "doc", "odt", "pdf", "txt", *IMAGE_KINDS)
# The name's extension → the kind its content must have (.jpg and .jpeg are both JPEG).
EXTENSIONS = {"docx": "docx", "doc": "doc", "odt": "odt", "pdf": "pdf", "txt": "txt",
              "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "heic": "heic", "heif": "heic"}
MAX_FILES = 30  # files in one upload (pages of one essay)
MIN_LETTERS = 20  # fewer letters than a sentence is not an essay

# Zip limits: a real essay .docx has 15-40 parts and XML parts of well under 5 MB.
MAX_ZIP_MEMBERS = 1000
MAX_ZIP_TOTAL = 200 * 1024 * 1024  # declared uncompressed bytes, all members
MAX_XML_PART = 25 * 1024 * 1024  # declared uncompressed bytes, one XML part
MAX_RATIO = 100  # XML rarely compresses better than 30:1; bombs do 1000:1
PROLOG_SCAN = 64 * 1024  # bytes of each XML part searched for DOCTYPE/ENTITY

MESSAGES = {
    "bad_filename": "Tên tệp không hợp lệ (chứa đường dẫn hoặc ký tự điều khiển). "
    "Vui lòng đổi tên tệp rồi tải lên lại.",
    "unsupported_type": "Chỉ nhận bài thu hoạch dạng .docx, .doc, .odt, .pdf, .txt hoặc ảnh chụp các "
    "trang bài (.jpg, .jpeg, .png, .heic).",
    "empty_file": "Tệp tải lên trống (0 byte). Vui lòng chọn lại tệp bài thu hoạch.",
    "too_large": "Tệp quá lớn. Dung lượng tối đa cho phép là {limit}.",
    "type_mismatch": "Nội dung tệp không khớp với đuôi .{ext} (tệp có vẻ là {actual}). "
    "Vui lòng tải lên đúng tệp Word, ODT, PDF hoặc văn bản .txt.",
    "corrupt": "Tệp bị hỏng hoặc không đọc được. Vui lòng mở tệp, lưu lại rồi tải lên lần nữa.",
    "zip_bomb": "Tệp có cấu trúc bất thường (nén quá mức hoặc quá nhiều thành phần) nên không "
    "được xử lý. Vui lòng mở tệp bằng Word, lưu lại rồi tải lên.",
    "xml_entities": "Tệp chứa khai báo XML không được phép (DOCTYPE/ENTITY) nên không được xử lý. "
    "Vui lòng mở tệp bằng Word, lưu lại rồi tải lên.",
    "macro": "Tệp có chứa macro nên không được nhận. Vui lòng lưu thành tệp .docx thông thường "
    "(không macro) rồi tải lên.",
    "encrypted": "Tệp đang được đặt mật khẩu nên không đọc được. Vui lòng gỡ mật khẩu rồi tải lên lại.",
    "truncated": "Tệp PDF không đầy đủ (có thể do tải lên bị gián đoạn). Vui lòng tải lên lại.",
    "scanned": "Tệp PDF này là bản chụp/scan, không có chữ để đọc. Vui lòng tải lên tệp Word "
    "(.docx) của bài thu hoạch.",
    "no_text": "Không tìm thấy nội dung bài thu hoạch trong tệp (tệp trống hoặc quá ít chữ). "
    "Vui lòng kiểm tra lại tệp.",
    "encoding": "Không nhận ra bảng mã của tệp văn bản. Vui lòng lưu tệp ở dạng UTF-8 hoặc "
    "tải lên tệp Word (.docx).",
    "no_converter": "Máy chủ hiện chưa đọc được tệp Word 97-2003 (.doc). Vui lòng mở tệp bằng "
    "Word, lưu thành .docx rồi tải lên.",
    "timeout": "Tệp quá phức tạp nên xử lý quá lâu. Vui lòng lưu lại tệp (nên dùng .docx) rồi "
    "tải lên.",
    "too_complex": "Tệp quá phức tạp, vượt giới hạn bộ nhớ khi đọc. Vui lòng lưu lại tệp (nên "
    "dùng .docx, bỏ bớt hình ảnh) rồi tải lên.",
    "image_too_large": "Ảnh có kích thước (số điểm ảnh) quá lớn nên không được xử lý. Vui lòng chụp "
    "lại bằng máy ảnh điện thoại ở chế độ thường, hoặc thu nhỏ ảnh rồi tải lên.",
    "unreadable": "Không đọc được đủ chữ trong ảnh/bản scan (ảnh mờ, tối, chụp nghiêng, thiếu trang "
    "hoặc bài viết tay). Vui lòng chụp lại dưới ánh sáng ban ngày, đặt trang giấy phẳng, chụp thẳng "
    "từ trên xuống và lấy trọn cả trang; nếu là bài viết tay, vui lòng nhờ cán bộ đơn vị nộp hộ "
    "dưới dạng bài viết tay.",
    "no_ocr": "Máy chủ chưa cài phần mềm nhận dạng chữ (Tesseract, gói tiếng Việt) nên chưa nhận "
    "được ảnh chụp hoặc bản scan. Vui lòng tải lên tệp Word (.docx) hoặc dán nội dung bài; và báo "
    "quản trị viên cài gói tesseract-ocr và tesseract-ocr-vie.",
    "ocr_timeout": "Nhận dạng chữ trong ảnh mất quá nhiều thời gian. Vui lòng chụp lại rõ hơn, "
    "hoặc gửi ít trang hơn mỗi lần.",
    "too_many_pages": "Quá nhiều trang trong một lần nộp (tối đa {limit} trang ảnh/scan). "
    "Vui lòng gộp bớt hoặc tải lên tệp Word (.docx).",
    "mixed_files": "Khi gửi nhiều tệp cùng lúc, chỉ nhận ảnh chụp các trang (.jpg, .jpeg, .png, "
    ".heic) hoặc tệp PDF. Tệp Word, .odt hoặc .txt vui lòng gửi riêng một tệp.",
    "too_many_files": "Quá nhiều tệp trong một lần nộp (tối đa {limit} tệp).",
}

WARNINGS = {
    "TCVN3": "Bài được gõ bằng phông chữ cũ TCVN3 (.VnTime); hệ thống đã tự chuyển sang Unicode. "
    "Vui lòng kiểm tra lại dấu tiếng Việt.",
    "VNI": "Bài được gõ bằng phông chữ cũ VNI (VNI-Times); hệ thống đã tự chuyển sang Unicode. "
    "Vui lòng kiểm tra lại dấu tiếng Việt.",
}

_ACTUAL = {
    "png": "ảnh PNG",
    "jpeg": "ảnh JPEG",
    "gif": "ảnh GIF",
    "webp": "ảnh WebP",
    "heic": "ảnh HEIC",
    "html": "trang web HTML",
    "rtf": "tệp RTF",
    "exe": "chương trình chạy được",
    "zip": "tệp nén ZIP",
    "rar": "tệp nén RAR",
    "7z": "tệp nén 7z",
    "xlsx": "bảng tính Excel",
    "pptx": "bản trình chiếu PowerPoint",
    "ole": "tệp Office không phải Word",
    "text": "tệp văn bản thuần",
    "binary": "tệp không xác định",
}


class ExtractionError(Exception):
    """An upload that cannot become an essay; `.message` is for the trainee."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or MESSAGES[code]
        super().__init__(self.message)


@dataclass(frozen=True)
class ExtractedText:
    """Normalised essay text plus Vietnamese warnings to show the trainee."""

    text: str
    warnings: tuple[str, ...] = ()
    legacy_encoding: str | None = None  # "TCVN3", "VNI" or None
    pages: int | None = None  # PDF only
    meta: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ScannedText:
    """Photos/scans read by Tesseract: the text, the joined PDF (None: the one PDF sent) and previews."""

    text: str
    ocr: bool
    confidence: float | None  # mean word confidence, 0-100
    pages: int
    pdf: bytes | None
    previews: tuple[bytes, ...]
    meta: dict = field(default_factory=dict, compare=False)


# --- file names ------------------------------------------------------------------------
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}


def _is_control(ch: str) -> bool:
    # Cc: C0/C1 controls; Cf: format chars such as U+202E (right-to-left override, used to
    # show "cod.exe" as "exe.doc") and zero-width spaces.
    return unicodedata.category(ch) in ("Cc", "Cf")


def clean_filename(name: str) -> str:
    """Return a safe display name that keeps Vietnamese letters (Đ/đ included)."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]  # browsers on Windows may send "C:\...\bai.docx"
    name = "".join(" " if ch in "\t\n\r" else ch for ch in name if not _is_control(ch) or ch in "\t\n\r")
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    # Windows drops trailing dots/spaces and a leading dot hides the file elsewhere.
    stem, ext = stem.strip(" ."), ext.strip(" .")[:10]
    if stem.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    stem = stem[: 120 - len(ext) - 1].rstrip(" .")
    if not stem:
        stem = "bai-thu-hoach"
    return f"{stem}.{ext}" if ext else stem


def _extension(filename: str) -> str:
    if not filename or any(_is_control(ch) for ch in filename):
        raise ExtractionError("bad_filename")
    if "/" in filename or "\\" in filename or filename.strip(" .") == "":
        raise ExtractionError("bad_filename")
    stem, dot, ext = filename.rpartition(".")
    ext = ext.lower().strip()
    if not dot or not stem.strip() or ext not in EXTENSIONS:
        raise ExtractionError("unsupported_type")
    return EXTENSIONS[ext]


# --- content sniffing ------------------------------------------------------------------
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def _sniff(data: bytes) -> str:
    """Name the real format of `data` from its first bytes (and a few markers)."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "zip"
    if data.startswith(_OLE_MAGIC):
        return "ole"
    for magic, kind in (
        (b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF8", "gif"), (b"{\\rtf", "rtf"),
        (b"MZ", "exe"), (b"\x7fELF", "exe"), (b"Rar!", "rar"), (b"7z\xbc\xaf", "7z"),
    ):
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc", b"ftypheim",
                      b"ftypheis"):
        return "heic"
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return "text"
    if b"\x00" in head:
        return "binary"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<svg")):
        return "html"
    return "text"


def _check_zip(data: bytes) -> str:
    """Validate an OOXML/ODF package without parsing it; return "docx" or "odt".

    The checks run in this order: sizes and encryption (nothing is decompressed yet), what kind of
    package it is, then the XML parts' prologs (decompressing a bounded head of each).
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise ExtractionError("corrupt") from None
    with zf:
        _check_zip_sizes(infos, len(data))
        kind = _package_kind(zf, infos)
        _check_xml_prologs(zf, infos)
    return kind


def _check_zip_sizes(infos: list[zipfile.ZipInfo], size: int) -> None:
    """Zip bombs (members, ratios, totals, oversized XML parts) and encrypted members, from the directory."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ExtractionError("zip_bomb")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > MAX_RATIO:
            raise ExtractionError("zip_bomb")
        if info.filename.lower().endswith((".xml", ".rels")) and info.file_size > MAX_XML_PART:
            raise ExtractionError("zip_bomb")
        if info.flag_bits & 0x1:
            raise ExtractionError("encrypted")
    # The whole archive too: many members of ≤ 1 MB each escape the per-member ratio
    # (150 zero-filled 1 MB members: 208 KB on the wire, 150 MB declared, were accepted).
    if total > MAX_ZIP_TOTAL or (total > 1024 * 1024 and total / max(size, 1) > MAX_RATIO):
        raise ExtractionError("zip_bomb")


def _package_kind(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> str:
    """"docx" or "odt" from the member names; other Office packages and macros are refused."""
    names = {info.filename for info in infos}
    lower = {n.lower() for n in names}
    if "[content_types].xml" in lower:
        if any(n.startswith("xl/") for n in lower):
            raise ExtractionError("type_mismatch", _mismatch_message("docx", "xlsx"))
        if any(n.startswith("ppt/") for n in lower):
            raise ExtractionError("type_mismatch", _mismatch_message("docx", "pptx"))
        if not any(n.startswith("word/") for n in lower):
            raise ExtractionError("corrupt")
        if any(n.endswith(("vbaproject.bin", "vbadata.xml")) for n in lower):
            raise ExtractionError("macro")
        return "docx"
    if "mimetype" in names and zf.read("mimetype")[:100].strip().startswith(
        b"application/vnd.oasis.opendocument.text"
    ):
        # ODF keeps Basic macros under Basic/ and other scripts under Scripts/.
        if any(n.startswith(("basic/", "scripts/")) and not n.endswith("/") for n in lower):
            raise ExtractionError("macro")
        return "odt"
    raise ExtractionError("type_mismatch", _mismatch_message("docx", "zip"))


def _check_xml_prologs(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """No DTD or entity declarations in any XML part (billion laughs, XXE); no macro-enabled content type."""
    for info in infos:
        if not info.filename.lower().endswith((".xml", ".rels")):
            continue
        try:
            with zf.open(info) as member:
                prolog = member.read(PROLOG_SCAN)
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError):
            raise ExtractionError("corrupt") from None
        if prolog.startswith((b"\xff\xfe", b"\xfe\xff")):
            prolog = prolog.decode("utf-16", "ignore").encode("utf-8")
        upper = prolog.upper()
        if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
            raise ExtractionError("xml_entities")
        if info.filename == "[Content_Types].xml" and b"MACROENABLED" in upper:
            raise ExtractionError("macro")


def _check_ole(data: bytes) -> str:
    """Recognise a Word 97-2003 file in an OLE container; return "doc"."""
    # Directory entries hold stream names in UTF-16LE; a byte search avoids an OLE parser.
    if _utf16("EncryptedPackage") in data or _utf16("EncryptionInfo") in data:
        raise ExtractionError("encrypted")  # a password-protected .docx is an OLE file
    if _utf16("WordDocument") not in data:
        raise ExtractionError("type_mismatch", _mismatch_message("doc", "ole"))
    if _utf16("_VBA_PROJECT") in data or _utf16("Macros") in data:
        raise ExtractionError("macro")
    return "doc"


def _check_pdf(data: bytes) -> str:
    if b"%%EOF" not in data[-4096:]:
        raise ExtractionError("truncated")
    return "pdf"


def _mismatch_message(ext: str, actual: str) -> str:
    return MESSAGES["type_mismatch"].format(ext=ext, actual=_ACTUAL.get(actual, _ACTUAL["binary"]))


def _size_label(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


def check_upload(filename: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Validate name, size and content of an upload; return its kind or raise ExtractionError.

    The kind comes from the content: a Word file saved as .doc but named .docx is read
    as "doc". Text is accepted only under a .txt name.
    """
    ext = _extension(filename)
    if not data:
        raise ExtractionError("empty_file")
    if len(data) > max_bytes:
        raise ExtractionError("too_large", MESSAGES["too_large"].format(limit=_size_label(max_bytes)))
    actual = _sniff(data)
    if actual == "zip":
        kind = _check_zip(data)
    elif actual == "ole":
        kind = _check_ole(data)
    elif actual == "pdf":
        kind = _check_pdf(data)
    elif actual == "text" and ext == "txt":
        kind = "txt"
    elif actual in IMAGE_KINDS and ext in IMAGE_KINDS:
        kind = actual  # a PNG named .jpg is still a photo of the page: read what it is
    else:
        raise ExtractionError("type_mismatch", _mismatch_message(ext, actual))
    if kind != ext:
        if ext == "txt":  # a Word/PDF file named .txt is a mistake worth naming
            raise ExtractionError("type_mismatch", _mismatch_message(ext, kind))
        logger.info("upload named .%s is really %s", ext, kind)
    return kind


# --- running the worker ----------------------------------------------------------------
_FORK_SERVER: multiprocessing.context.ForkServerContext | None = None
_FORK_SERVER_LOCK = threading.Lock()

# A pooled worker reads this many files, then is replaced: whatever one file left behind in
# the heap (fragmentation, caches) does not accumulate.
POOLED_TASKS = 200
# Idle pooled workers kept per web process (more than its threads: no churn at steady load).
POOL_IDLE = 8
# PDF goes through pdfium, a C library: every PDF gets a fresh child that reads that one file
# and exits, so nothing a crafted PDF does in the parser can outlive it or see the next file.
# The other kinds are read by Python code (zipfile, defusedxml, antiword in its own process).
ONE_SHOT_KINDS = frozenset({"pdf"})


def _context() -> multiprocessing.context.ForkServerContext:
    """This process's fork server context, with the parsers preloaded (started on first use)."""
    global _FORK_SERVER
    with _FORK_SERVER_LOCK:
        if _FORK_SERVER is None:
            from essays._extract_worker import PRELOAD

            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _FORK_SERVER = ctx
        return _FORK_SERVER


class _Worker:
    """One extraction child and the pipe to it; serves one file or, pooled, many in turn."""

    def __init__(self, ctx: multiprocessing.context.ForkServerContext, *, max_tasks: int) -> None:
        from essays._extract_worker import serve

        self.conn, child_conn = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=serve, args=(child_conn, max_tasks), daemon=True)
        self.proc.start()
        child_conn.close()
        self.tasks_left = max_tasks
        self.served = 0  # files answered: a child that dies on its first file died of that file

    def run(self, kind: str, data: bytes, *, timeout: float, memory_mb: int) -> bytes | None:
        """Send one file; return the JSON answer, or None when the child died (killed by a limit).

        Raises ExtractionError("timeout") after killing the child when no answer came in time.
        """
        answer = self.ask(kind, [data], {}, timeout=timeout, memory_mb=memory_mb)
        return None if answer is None else answer[0]

    def ask(self, kind: str, parts: list[bytes], options: dict, *, timeout: float, memory_mb: int,
            timeout_code: str = "timeout") -> tuple[bytes, list[bytes]] | None:
        """Send a request and its files; return the JSON answer and the blobs it names, None if the child died."""
        self.tasks_left -= 1
        deadline = time.monotonic() + timeout
        try:
            self.conn.send((kind, int(memory_mb), max(1, int(timeout) + 1), options))
            for part in parts:
                self.conn.send_bytes(part)
            answer = self._receive(deadline, kind, timeout_code)
            count = int(json.loads(answer).get("blobs") or 0) if kind == "scan" else 0
            blobs = [self._receive(deadline, kind, timeout_code) for _ in range(count)]
        except (EOFError, OSError):
            return None
        self.served += 1
        return answer, blobs

    def _receive(self, deadline: float, kind: str, timeout_code: str) -> bytes:
        if not self.conn.poll(max(0.0, deadline - time.monotonic())):
            self.kill()
            logger.warning("extraction of %s timed out", kind)
            raise ExtractionError(timeout_code)
        return self.conn.recv_bytes()

    def usable(self) -> bool:
        return self.tasks_left > 0 and self.proc.is_alive()

    def kill(self) -> None:
        _kill_group(self.proc)
        self.close()

    def close(self) -> None:
        """Let the child go (it exits when its pipe closes) and reap it."""
        self.conn.close()
        self.proc.join(5)
        if self.proc.is_alive():
            _kill_group(self.proc)
            self.proc.join(5)


class _Pool:
    """Idle pooled workers of this process (web threads take one each; none is ever shared)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.pid = os.getpid()

    def take(self) -> _Worker:
        dead: list[_Worker] = []
        found = None
        with self.lock:
            if self.pid != os.getpid():  # forked (e.g. by a server after import): not our children
                self.idle, self.pid = [], os.getpid()
            while self.idle and found is None:
                worker = self.idle.pop()
                if worker.usable():
                    found = worker
                else:
                    dead.append(worker)
        for worker in dead:  # reaped outside the lock: other threads need not wait for it
            worker.close()
        return found or _Worker(_context(), max_tasks=POOLED_TASKS)

    def give_back(self, worker: _Worker) -> None:
        with self.lock:
            if worker.usable() and len(self.idle) < POOL_IDLE and self.pid == os.getpid():
                self.idle.append(worker)
                return
        worker.close()


_POOL = _Pool()


def extract_text(data: bytes, kind: str, *, timeout: float = 30, memory_mb: int = 512) -> ExtractedText:
    """Extract and normalise the text of a checked upload in a resource-limited child process.

    The child comes from a fork server with the parsers preloaded; for all kinds but PDF it
    is kept for further files (starting one cost more than reading a typical essay).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    one_shot = kind in ONE_SHOT_KINDS
    worker = _Worker(_context(), max_tasks=1) if one_shot else _POOL.take()
    out = worker.run(kind, data, timeout=timeout, memory_mb=memory_mb)
    if out is None and worker.served:
        # A pooled child may have ended just before or as it was given the file (killed from
        # outside, say): the file gets one fresh child of its own before it is called too complex.
        worker.kill()
        worker = _Worker(_context(), max_tasks=1)
        out = worker.run(kind, data, timeout=timeout, memory_mb=memory_mb)
    if out is None:
        worker.proc.join(5)
        exitcode = worker.proc.exitcode
        worker.kill()
        logger.warning("extraction worker for %s exited %s without a result", kind, exitcode)
        if exitcode == -signal.SIGXCPU:
            raise ExtractionError("timeout")
        raise ExtractionError("too_complex")
    if one_shot:
        worker.close()
    else:
        _POOL.give_back(worker)
    try:
        result = json.loads(out)
    except ValueError:
        logger.error("extraction worker for %s sent no JSON", kind)
        raise ExtractionError("corrupt") from None
    if not result.get("ok"):
        code = str(result.get("code")) if result.get("code") in MESSAGES else "corrupt"
        if result.get("detail"):
            logger.info("extraction of %s refused (%s): %s", kind, code, result["detail"])
        raise ExtractionError(code)
    legacy = result.get("legacy_encoding")
    warnings = (WARNINGS[legacy],) if legacy in WARNINGS else ()
    return ExtractedText(
        text=result["text"], warnings=warnings, legacy_encoding=legacy,
        pages=result.get("pages"), meta=result.get("meta", {}),
    )


def _kill_group(proc: multiprocessing.process.BaseProcess) -> None:
    try:
        if proc.pid is None:  # never started: nothing to kill
            return
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


# --- photos and scans ------------------------------------------------------------------
OCR_LANGUAGE = "vie"
# Seconds for a whole upload (each page has its own, smaller limits): under gunicorn's 120 s,
# since the pages are read in the request (docs/PERFORMANCE.md: ~2.5 s of CPU per A4 page).
OCR_TIMEOUT = 110
OCR_MEMORY_MB = 1024  # the child decoding photos; Tesseract runs under its own limit per page
MAX_SCAN_PAGES = 20
_OCR_CHECKED: dict[str, tuple[float, bool]] = {}


def ocr_available(tesseract: str = "tesseract") -> bool:
    """Whether Tesseract and its Vietnamese model are installed (asked again after a minute)."""
    now = time.monotonic()
    cached = _OCR_CHECKED.get(tesseract)
    if cached and now - cached[0] < 60:
        return cached[1]
    found = False
    if shutil.which(tesseract):
        try:
            proc = subprocess.run([tesseract, "--list-langs"], capture_output=True, timeout=20, check=False)
            langs = (proc.stdout + proc.stderr).decode("utf-8", "replace").split()
            found = proc.returncode == 0 and OCR_LANGUAGE in langs
        except (OSError, subprocess.SubprocessError):
            found = False
    if not found:
        logger.warning("OCR unavailable: %s with the %s model not found", tesseract, OCR_LANGUAGE)
    _OCR_CHECKED[tesseract] = (now, found)
    return found


def extract_scan(parts: list[tuple[str, bytes]], *, read_text: bool = True, tesseract: str = "tesseract",
                 timeout: float = OCR_TIMEOUT, memory_mb: int = OCR_MEMORY_MB) -> ScannedText:
    """Read photos and image-only PDFs (checked, in order) with Tesseract in a fresh child process.

    `read_text=False` (a handwritten essay an officer hands in) skips recognition: the pages are
    still checked, straightened, joined and previewed. Raises ExtractionError with a message
    naming the page when one page is at fault.
    """
    if not parts or any(kind not in (*IMAGE_KINDS, "pdf") for kind, _ in parts):
        raise ValueError("extract_scan takes images and PDFs")
    if len(parts) > MAX_FILES:
        raise ExtractionError("too_many_files", MESSAGES["too_many_files"].format(limit=MAX_FILES))
    if not ocr_available(tesseract):
        raise ExtractionError("no_ocr")
    join = not (len(parts) == 1 and parts[0][0] == "pdf")
    options = {"parts": [kind for kind, _ in parts], "join": join, "tesseract": tesseract,
               "language": OCR_LANGUAGE, "read_text": read_text, "max_pages": MAX_SCAN_PAGES}
    worker = _Worker(_context(), max_tasks=1)
    answer = worker.ask("scan", [data for _, data in parts], options, timeout=timeout, memory_mb=memory_mb,
                        timeout_code="ocr_timeout")
    if answer is None:
        worker.proc.join(5)
        exitcode = worker.proc.exitcode
        worker.kill()
        logger.warning("scan worker exited %s without a result", exitcode)
        raise ExtractionError("ocr_timeout" if exitcode == -signal.SIGXCPU else "too_complex")
    worker.close()
    result, blobs = json.loads(answer[0]), answer[1]
    if not result.get("ok"):
        raise _scan_error(result)
    pdf = blobs.pop(0) if result.get("joined") else None
    return ScannedText(text=result["text"], ocr=bool(result.get("ocr")), confidence=result.get("confidence"),
                       pages=int(result.get("pages") or len(blobs)), pdf=pdf, previews=tuple(blobs),
                       meta=result.get("meta", {}))


def _scan_error(result: dict) -> ExtractionError:
    code = str(result.get("code")) if result.get("code") in MESSAGES else "corrupt"
    logger.info("scan refused (%s, page %s): %s", code, result.get("page"), result.get("detail"))
    message = MESSAGES[code]
    if code == "too_many_pages":
        message = message.format(limit=MAX_SCAN_PAGES)
    elif result.get("page") and code in ("corrupt", "image_too_large", "ocr_timeout"):
        message = f"Trang {result['page']}: {message}"
    return ExtractionError(code, message)
