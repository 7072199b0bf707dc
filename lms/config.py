"""Configuration: defaults, then the environment, then the mapping given to create_app."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_FEATURES = ("essays", "review")

# Who issues the Board's report and where (review/report/prose.py): the defaults a report starts
# from before anyone edits its prose. Setting -> (environment variable, default for Cần Thơ).
# THUHOACH_REPORT_RECIPIENTS separates its lines with "|".
REPORT_SETTINGS = {
    # The Party organisation above the issuing body: the header's first line.
    "REPORT_ISSUER": ("THUHOACH_REPORT_ISSUER", "ĐẢNG BỘ THÀNH PHỐ CẦN THƠ"),
    # The place in the date line ("Cần Thơ, ngày … tháng … năm …"), also of non-ward units' reports.
    "REPORT_PLACE": ("THUHOACH_REPORT_PLACE", "Cần Thơ"),
    # What the whole course's report covers: "Báo cáo toàn thành phố" ("tỉnh" for a province).
    "REPORT_AREA": ("THUHOACH_REPORT_AREA", "thành phố"),
    # The Board as the body that issues the whole course's report (capitalised in the header and
    # signature) and receives the wards' reports.
    "REPORT_BOARD": ("THUHOACH_REPORT_BOARD", "Ban Tổ chức Thành ủy"),
    "REPORT_BOARD_NUMBER": ("THUHOACH_REPORT_NUMBER", "     -BC/BTCTU"),
    "REPORT_BOARD_RECIPIENTS": ("THUHOACH_REPORT_RECIPIENTS",
                                "Thường trực Thành ủy (để báo cáo),\nCác đồng chí Thành ủy viên,\n"
                                "Các đảng bộ phường, xã, đặc khu,\nLưu Văn phòng Ban."),
}


def _secret_key(instance_path: Path) -> str:
    """Read the key kept in the instance folder, creating it once so restarts keep sessions."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    tmp = key_file.with_suffix(".tmp")
    tmp.write_text(key)
    os.chmod(tmp, 0o600)
    # Another worker may have won the race: keep whichever file landed first.
    try:
        os.link(tmp, key_file)
    except FileExistsError:
        pass
    tmp.unlink(missing_ok=True)
    return key_file.read_text().strip()


def normalize_database_url(url: str) -> str:
    """Accept the Heroku-style postgres:// scheme and pick psycopg 3 as the driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _search_settings(config: dict[str, Any], env: Mapping[str, str]) -> None:
    """The search backend, its index kind and where an upload is indexed (checked, in place)."""
    # Search: Whoosh files in DATA_DIR on SQLite (one box), a PostgreSQL table shared by every
    # app server on PostgreSQL (the country); THUHOACH_SEARCH=whoosh|postgres chooses otherwise.
    config.setdefault("SEARCH_BACKEND", env.get("THUHOACH_SEARCH") or (
        "postgres" if config["DATABASE_URL"].startswith("postgresql") else "whoosh"))
    if config["SEARCH_BACKEND"] not in ("whoosh", "postgres"):
        raise ValueError("THUHOACH_SEARCH phải là whoosh hoặc postgres")
    if config["SEARCH_BACKEND"] == "postgres" and not config["DATABASE_URL"].startswith("postgresql"):
        raise ValueError("THUHOACH_SEARCH=postgres cần DATABASE_URL là PostgreSQL")
    config.setdefault("SEARCH_PG_INDEX", env.get("THUHOACH_SEARCH_PG_INDEX", "gin"))
    # PostgreSQL search only: "upload" writes an upload's search row in the upload's own
    # transaction instead of the outbox the worker drains (docs/PERFORMANCE.md measures both).
    config.setdefault("SEARCH_INDEXING", env.get("THUHOACH_SEARCH_INDEXING", "worker"))
    if config["SEARCH_INDEXING"] not in ("worker", "upload"):
        raise ValueError("THUHOACH_SEARCH_INDEXING phải là worker hoặc upload")


def build_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the settings for one app: defaults < environment < overrides."""
    overrides = dict(overrides or {})
    env = os.environ
    data_dir = Path(overrides.get("DATA_DIR") or env.get("THUHOACH_DATA_DIR") or instance_path)
    config: dict[str, Any] = {
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'thuhoach.db'}",
        "DATA_DIR": data_dir,
        "SECRET_KEY": env.get("SECRET_KEY"),
        "FEATURES": DEFAULT_FEATURES,
        "MAX_UPLOAD_BYTES": int(env.get("THUHOACH_MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        # Tesseract reads photographed/scanned essays (Debian: tesseract-ocr, tesseract-ocr-vie).
        "TESSERACT_CMD": env.get("THUHOACH_TESSERACT", "tesseract"),
        # The indexer runs inside the app process unless production turns it off and runs
        # `flask --app lms search worker` instead.
        "INDEXER_IN_PROCESS": env.get("THUHOACH_INDEXER_IN_PROCESS", "1") == "1",
        "TIMEZONE": "Asia/Ho_Chi_Minh",
        # How many reverse proxies (nginx) stand in front of the app and set X-Forwarded-For.
        "PROXIES": int(env.get("THUHOACH_PROXIES", "0")),
        # Searches per user: "count/seconds", counted in the database (every process and server).
        "SEARCH_RATE_LIMIT": tuple(int(x) for x in env.get("THUHOACH_SEARCH_RATE", "30/30").split("/", 1)),
        # Seconds one search query may spend in the index (Whoosh stops collecting, PostgreSQL's
        # statement_timeout cancels).
        "SEARCH_TIME_BUDGET": float(env.get("THUHOACH_SEARCH_TIME_BUDGET", "2")),
        # A trainee may spend hours writing: the CSRF token lives as long as the session.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("THUHOACH_HTTPS", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": env.get("THUHOACH_HTTPS", "0") == "1",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "SMTP_HOST": env.get("THUHOACH_SMTP_HOST", ""),
        "SMTP_PORT": int(env.get("THUHOACH_SMTP_PORT", "25")),
        "MAIL_FROM": env.get("THUHOACH_MAIL_FROM", "thuhoach@localhost"),
        # LTI: also match an LMS person by lis_person_sourcedid = thuhoach username (after e-mail).
        "LTI_MATCH_SOURCEDID": env.get("THUHOACH_LTI_MATCH_SOURCEDID", "0") == "1",
    }
    for key, (variable, default) in REPORT_SETTINGS.items():
        config[key] = env.get(variable, default)
    config["REPORT_BOARD_RECIPIENTS"] = config["REPORT_BOARD_RECIPIENTS"].replace("|", "\n")
    config.update(overrides)
    config["DATA_DIR"] = Path(config["DATA_DIR"])
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    _search_settings(config, env)
    config["MAX_CONTENT_LENGTH"] = config["MAX_UPLOAD_BYTES"] + 1024 * 1024
    if not config["SECRET_KEY"]:
        instance_path.mkdir(parents=True, exist_ok=True)
        config["SECRET_KEY"] = _secret_key(instance_path)
    return config
