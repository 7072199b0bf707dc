"""Real essay files built once per session (LibreOffice is slow: one call per target format)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.essays.essay_files import ESSAY, FOOTER, HEADER, TABLE, TITLE, build_docx


@pytest.fixture(scope="session")
def essay_docx() -> bytes:
    return build_docx([TITLE, ESSAY], header=HEADER, footer=FOOTER, table=TABLE)


def _soffice(workdir: Path, target: str, files: list[Path]) -> None:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    subprocess.run(
        [exe, "--headless", "--norestore", f"-env:UserInstallation=file://{workdir}/profile",
         "--convert-to", target, "--outdir", str(workdir / target.split(":")[0].split()[0]),
         *map(str, files)],
        check=True, capture_output=True, timeout=180,
    )


@pytest.fixture(scope="session")
def office_files(tmp_path_factory, essay_docx) -> dict[str, bytes]:
    """PDF, encrypted PDF and .doc versions of the essay, made by LibreOffice."""
    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        pytest.skip("LibreOffice (libreoffice-writer-nogui) is not installed")
    workdir = tmp_path_factory.mktemp("soffice")
    source = workdir / "essay.docx"
    source.write_bytes(essay_docx)
    _soffice(workdir, "pdf", [source])
    _soffice(workdir, "doc", [source])
    secret = json.dumps({
        "EncryptFile": {"type": "boolean", "value": "true"},
        "DocumentOpenPassword": {"type": "string", "value": "matkhau"},
    })
    locked = workdir / "locked.docx"
    locked.write_bytes(essay_docx)
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    subprocess.run(
        [exe, "--headless", "--norestore", f"-env:UserInstallation=file://{workdir}/profile",
         "--convert-to", f"pdf:writer_pdf_Export:{secret}", "--outdir", str(workdir / "locked"),
         str(locked)],
        check=True, capture_output=True, timeout=180,
    )
    return {
        "pdf": (workdir / "pdf" / "essay.pdf").read_bytes(),
        "doc": (workdir / "doc" / "essay.doc").read_bytes(),
        "encrypted_pdf": (workdir / "locked" / "locked.pdf").read_bytes(),
    }


