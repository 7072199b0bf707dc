"""Every route × every role × own / same-unit / other-unit object: who may, who may not.

The expected answers are written once, in RULES. The list of routes comes from the app's URL
map, so a new route without a rule makes `test_every_route_has_a_rule` fail. "Allowed" means the
request got past authorization (any answer but 401/403/404 or a redirect to the login page: a
400 for an empty form is fine); "denied" means 401/403/404 or the login page.
"""
from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

import pytest

from lms.db import db
from lms.models import Role

PERSONAS = ("anon", "owner", "peer", "other_trainee", "officer_a", "officer_b", "reviewer", "admin")
TRAINEES = {"owner", "peer", "other_trainee"}
USERS = set(PERSONAS) - {"anon"}
BOARD = {"reviewer", "admin"}
OFFICERS = {"officer_a", "officer_b"}
STAFF = OFFICERS | BOARD
UNIT_A = {"officer_a"} | BOARD           # about unit A or an object in it
ESSAY = {"owner"} | UNIT_A               # the owner's essay, in unit A
EVERYONE = set(PERSONAS)


@dataclasses.dataclass(frozen=True)
class Rule:
    allowed: frozenset
    fresh: bool = False          # the request changes the object: each allowed persona gets a new world
    skip: str | None = None      # covered elsewhere (why)
    to_login_ok: bool = False    # a redirect to the login page is the normal answer (logout)


def R(allowed: set, *, fresh: bool = False, to_login_ok: bool = False) -> Rule:
    return Rule(frozenset(allowed), fresh, to_login_ok=to_login_ok)


def covered(reason: str) -> Rule:
    return Rule(frozenset(), skip=reason)


RULES: dict[tuple[str, str], Rule] = {
    # host
    ("pages.index", "GET"): R(USERS),
    ("pages.favicon", "GET"): R(EVERYONE),
    ("static", "GET"): R(EVERYONE),
    ("auth.login", "GET"): R(EVERYONE),
    ("auth.login", "POST"): R(EVERYONE),
    ("auth.logout", "POST"): R(EVERYONE, to_login_ok=True),
    ("auth.password", "GET"): R(USERS),
    ("auth.password", "POST"): R(USERS),
    ("pages.admin_audit", "GET"): R({"admin"}),
    ("pages.admin_courses", "GET"): R({"admin"}),
    ("pages.admin_courses", "POST"): R({"admin"}),
    ("pages.admin_units", "GET"): R({"admin"}),
    ("pages.admin_units", "POST"): R({"admin"}),
    ("pages.admin_users", "GET"): R({"admin"}),
    ("pages.admin_course", "GET"): R({"admin"}),
    ("pages.admin_course", "POST"): R({"admin"}, fresh=True),
    ("pages.admin_topic", "POST"): R({"admin"}, fresh=True),
    ("pages.officer_reset_password", "GET"): R({"officer_a"}),
    ("pages.officer_reset_password", "POST"): R({"officer_a"}, fresh=True),
    ("api.update_course", "PATCH"): R({"admin"}, fresh=True),
    ("pages.admin_users", "POST"): R({"admin"}),
    ("pages.admin_reset_password", "POST"): R({"admin"}),
    ("pages.admin_end_sessions", "POST"): R({"admin"}),
    ("pages.admin_throttle", "GET"): R({"admin"}),
    ("pages.admin_release_login", "POST"): R({"admin"}),
    ("pages.job", "GET"): R({"reviewer", "admin"}),            # the job is the reviewer's
    ("pages.job_download", "GET"): R({"reviewer", "admin"}),
    ("roster.import_page", "GET"): R({"admin"} | OFFICERS),
    ("roster.import_page", "POST"): R({"admin"} | OFFICERS),
    ("roster.credentials", "GET"): R({"officer_a", "admin"}),
    # API of the host
    ("api.me", "GET"): R(USERS),
    ("api.courses", "GET"): R(USERS),
    ("api.units", "GET"): R(USERS),
    ("api.openapi", "GET"): R(EVERYONE),
    ("api.job", "GET"): R({"reviewer", "admin"}),
    ("roster_api.import_api", "POST"): R({"admin"} | OFFICERS),
    # essays
    ("essays.mine", "GET"): R(TRAINEES),
    ("essays.submit", "GET"): R(TRAINEES),
    ("essays.submit", "POST"): R(TRAINEES),
    ("essays.submit_for", "GET"): R({"officer_a", "admin"}),
    ("essays.submit_for", "POST"): R({"officer_a", "admin"}),
    ("essays.view", "GET"): R(ESSAY),
    ("essays.version", "GET"): R(ESSAY),
    ("essays.download", "GET"): R(ESSAY),
    ("essays.version_file", "GET"): covered("tests/essays/test_scans.py: page images and originals of a "
                                            "scanned essay, another unit's officer gets 404"),
    ("essays.needs_reading", "GET"): R(BOARD),
    ("essays.scan_job", "GET"): covered("tests/essays/test_scans.py: a scan job's page, followed by whoever "
                                        "handed the pages in (lms.jobs.job_or_404)"),
    ("essays.unit_essays", "GET"): R(STAFF),
    ("essays.extensions", "GET"): R(STAFF),
    ("essays.extensions", "POST"): R(STAFF),
    ("essays_api.put_essay", "PUT"): R(TRAINEES),
    ("essays_api.get_own_essay", "GET"): R({"owner"}),          # others have handed in nothing: 404
    ("essays_api.get_essay", "GET"): R(ESSAY),
    ("essay_search.search", "GET"): R(STAFF),
    ("essay_search.essay", "GET"): R(ESSAY),
    ("essay_search_api.api_search", "GET"): R(STAFF),
    # completeness
    ("completeness.index", "GET"): R(STAFF),
    ("completeness.notices", "GET"): R(USERS),
    ("completeness.notices", "POST"): R(USERS),
    ("completeness.overview", "GET"): R(BOARD),
    ("completeness.overview_download", "GET"): R(BOARD),
    ("completeness.unit_table", "GET"): R(UNIT_A),
    ("completeness.missing_download", "GET"): R(UNIT_A),
    ("completeness.remind", "POST"): R(UNIT_A, fresh=True),
    ("completeness.essays_download", "GET"): R(UNIT_A),
    ("completeness.essays_compiled", "GET"): R(UNIT_A),
    ("completeness.attendance", "GET"): R(UNIT_A),
    # The unit marks attendance and exemptions (admins may correct); the Board reads them.
    ("completeness.attendance", "POST"): R({"officer_a", "admin"}),
    ("completeness.attendance_import", "POST"): R({"officer_a", "admin"}),
    ("completeness.exemption", "POST"): R({"officer_a", "admin"}),
    ("completeness.extension", "POST"): R(UNIT_A),
    ("completeness_api.course_completeness", "GET"): R(STAFF),  # an officer gets their own unit
    # review: tagging and compilation (Board only)
    ("tagging.themes", "GET"): R(BOARD),
    ("tagging.themes", "POST"): R(BOARD),
    ("tagging.read", "GET"): R(BOARD),
    ("tagging.set_state", "POST"): R(BOARD),
    ("tagging.edit_tag", "POST"): R(BOARD),
    ("tagging.remove_tag", "POST"): R(BOARD, fresh=True),
    ("tagging.duplicate", "POST"): R(BOARD),
    ("tagging.accept_suggestion", "POST"): R(BOARD, fresh=True),
    ("tagging.dismiss_suggestion", "POST"): R(BOARD, fresh=True),
    ("tagging.queue", "GET"): R(BOARD),
    ("tagging.triage", "GET"): R(BOARD),
    ("tagging.copies", "GET"): R(BOARD),
    ("tagging.assignments", "GET"): R(BOARD),
    ("tagging.assignments", "POST"): R(BOARD),
    ("tagging.compilation_home", "GET"): R(BOARD),
    ("tagging.compilation", "GET"): R(BOARD),
    ("tagging.compilation_xlsx", "GET"): R(BOARD),
    ("tagging.groups", "GET"): R(BOARD),
    ("tagging.groups", "POST"): R(BOARD),
    # Officers read the tags of their own unit (the course list is filtered to it); only the Board tags.
    ("review_tagging_api.themes", "GET"): R(STAFF),
    # The officer of the essay's unit tags it for the ward's compilation (another unit's essay: 404).
    ("review_tagging_api.create_tag", "POST"): R(BOARD | {"officer_a"}),
    ("review_tagging_api.essay_tags", "GET"): R(BOARD | {"officer_a"}),
    ("review_tagging_api.course_tags", "GET"): R(STAFF),
    ("review_tagging_api.patch_tag", "PATCH"): R(BOARD),
    ("review_tagging_api.remove_tag", "DELETE"): R(BOARD, fresh=True),
    # The officer of the essay's unit works on its suggestions for the ward's compilation (issue 20).
    ("review_tagging_api.suggestions", "GET"): R(BOARD | {"officer_a"}),
    ("review_tagging_api.triage", "GET"): R(BOARD),
    ("review_tagging_api.dismiss", "POST"): R(BOARD | {"officer_a"}, fresh=True),
    ("review_tagging_api.reopen", "POST"): R(BOARD | {"officer_a"}),
    # report
    ("report.index", "GET"): R(STAFF),
    ("report.course_report", "GET"): R(BOARD),
    ("report.course_build", "POST"): R(BOARD),
    ("report.course_settings", "GET"): R(BOARD),
    ("report.course_settings", "POST"): R(BOARD),
    ("report.unit_report", "GET"): R(UNIT_A),
    ("report.unit_build", "POST"): R(UNIT_A),
    ("report.unit_settings", "GET"): R(UNIT_A),
    ("report.unit_settings", "POST"): R(UNIT_A),
    ("report_api.api_report_xlsx", "GET"): R(BOARD),
    ("report_api.api_report_docx", "GET"): R(BOARD),
    # wards: the unit's officer compiles and sends (an admin may for them); the Board reads what was sent
    ("wards.compile_unit", "GET"): R(UNIT_A),
    ("wards.decide", "POST"): R({"officer_a", "admin"}, fresh=True),
    ("wards.send", "POST"): R({"officer_a", "admin"}),
    ("wards_api.send", "POST"): R({"officer_a", "admin"}),
    ("wards_api.sent", "GET"): R(UNIT_A),
    ("wards_api.sent_download", "GET"): R(UNIT_A),
    # LTI: the platform's signed id_token is the credential; tests/lti checks every rejection
    ("lti.login", "GET"): covered("tests/lti: OIDC login initiation"),
    ("lti.login", "POST"): covered("tests/lti: OIDC login initiation"),
    ("lti.launch", "POST"): covered("tests/lti: launch with a signed id_token"),
    ("lti.deep_link", "GET"): covered("tests/lti: deep linking"),
    ("lti.deep_link", "POST"): covered("tests/lti: deep linking"),
    ("lti.jwks", "GET"): R(EVERYONE),
    ("lti.static", "GET"): R(EVERYONE),
    ("lti.admin_platforms", "GET"): R({"admin"}),
    ("lti.admin_platforms", "POST"): R({"admin"}),
    ("lti.admin_links", "GET"): R({"admin"}),
    ("lti.move_user_link", "POST"): covered("tests/lti/test_identity.py: moving needs an LMS link"),
    ("lti.sync", "POST"): covered("tests/lti: roster sync needs a registered platform"),
    ("lti.scores", "POST"): covered("tests/lti: grade return needs a registered platform"),
}


def _routes(app) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule))
    return found


def test_every_route_has_a_rule(app):
    missing = [f"{e} {m} {r}" for e, m, r in _routes(app) if (e, m) not in RULES]
    assert not missing, "routes without an authorization rule:\n" + "\n".join(missing)
    stale = [f"{e} {m}" for e, m in RULES if (e, m) not in {(e2, m2) for e2, m2, _ in _routes(app)}]
    assert not stale, "rules for routes that no longer exist:\n" + "\n".join(stale)


@pytest.fixture
def build_world(app, make_unit, make_user, make_course, enroll, api_token):
    """A function that builds the world: two wards, people of every role, an essay with a tag."""
    def build() -> dict:
        from essays.operations import submit_essay
        from lms.jobs import enqueue_job, jobs_dir
        from review.tagging import operations as tagging
        from review.tagging.suggestions import suggestions_for

        # Rows deleted by a request may see their ids reused (SQLite): forget what we held.
        db.session.commit()
        db.session.expunge_all()
        # A fresh world in the same test reuses the two wards.
        unit_a = _unit("31135") or make_unit(code="31135", name="Phường Ninh Kiều")
        unit_b = _unit("31261") or make_unit(code="31261", name="Xã Cờ Đỏ")
        course = make_course()
        people = {
            "owner": make_user(Role.trainee, unit=unit_a), "peer": make_user(Role.trainee, unit=unit_a),
            "other_trainee": make_user(Role.trainee, unit=unit_b),
            "officer_a": make_user(Role.officer, unit=unit_a), "officer_b": make_user(Role.officer, unit=unit_b),
            "reviewer": make_user(Role.reviewer), "admin": make_user(Role.admin),
        }
        for name in TRAINEES:
            enroll(people[name], course)
        text = ("I. Nhận thức\nQua lớp học, tôi hiểu rõ hơn về chuyển đổi số.\n"
                "II. Kiến nghị, đề xuất\n1. Đề nghị tăng cường đào tạo kỹ năng số cho cán bộ phường.\n"
                "2. Kiến nghị đầu tư hạ tầng mạng ở các xã vùng sâu.")
        version = submit_essay(people["owner"], course.topics[0], data=None, filename=None, text=text,
                               uploaded_by=people["owner"])
        essay = version.essay
        theme = tagging.create_theme(f"Chuyển đổi số {course.id}")
        tag = tagging.tag_passage(essay, start=0, end=12, kind="recommendation", theme_ids=[theme.id],
                                  by=people["reviewer"])
        suggestions = suggestions_for(version)
        sent = _sent_report(app, course, unit_a, people["officer_a"])
        job = enqueue_job("noop", {}, people["reviewer"])
        result = jobs_dir(app) / f"ket-qua-{job.id}.txt"
        result.write_text("xong", encoding="utf-8")
        job.status, job.result_path, job.result_name = "done", str(result), "kết quả.txt"
        db.session.commit()
        return {"people": people, "unit": unit_a, "course": course, "topic": course.topics[0], "essay": essay,
                "version": version, "tag": tag, "theme": theme, "job": job, "sent": sent,
                "suggestion": suggestions[0] if suggestions else None}

    return build


def _sent_report(app, course, unit, officer):
    """A sending of unit A (files stored as they would be), without building the report."""
    from essays.storage import store_bytes
    from review.wards.models import WardReport

    stored = store_bytes(app.config["DATA_DIR"], b"PK sent report")
    report = WardReport(course_id=course.id, unit_id=unit.id, version=1, sent_by_id=officer.id,
                        docx_sha256=stored.sha256, xlsx_sha256=stored.sha256, cite_names=True, passage_count=0)
    db.session.add(report)
    return report


def _unit(code):
    from lms.models import Unit

    return db.session.query(Unit).filter_by(code=code).one_or_none()


def _url(rule: str, world: dict) -> str:
    values = {
        "essay_id": world["essay"].id, "course_id": world["course"].id, "topic_id": world["topic"].id,
        "trainee_id": world["people"]["owner"].id, "number": world["version"].number, "tag_id": world["tag"].id,
        "theme_id": world["theme"].id, "job_id": world["job"].id, "code": world["unit"].code,
        "unit_code": world["unit"].code, "user_id": world["people"]["peer"].id,
        "suggestion_id": world["suggestion"].id if world["suggestion"] else 999999,
        "filename": "app.css", "action": "dismiss", "fmt": "docx",
    }

    def fill(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        return str(values[name])

    url = re.sub(r"<([^>]+)>", fill, rule)
    if rule.startswith("/static/"):
        url = "/static/app.css"
    if rule.startswith("/lti/static/"):
        url = rule.replace("<path:filename>", "autosubmit.js")
    return url


def _login(client, user) -> str:
    """Put the user in the session (as Flask-Login does) and return a CSRF token for it."""
    from tests.conftest import csrf_token_from

    token = _session_token(user) if user is not None else None
    with client.session_transaction() as session:
        session.clear()
        if token is not None:
            # The cookie names a server-side login session (lms/sessions.py), not the user.
            session["_user_id"] = token
            session["_fresh"] = True
    page = client.get("/password" if user is not None else "/login")
    return csrf_token_from(page.get_data(as_text=True))


def _session_token(user) -> str:
    """A live server-side login session of the user, as lms.sessions.start_session makes it."""
    import datetime as dt
    import secrets

    from lms.db import utcnow
    from lms.models import LoginSession
    from lms.security import token_digest

    token, now = secrets.token_urlsafe(32), utcnow()
    db.session.add(LoginSession(user_id=user.id, token_sha256=token_digest(token), created_at=now,
                                expires_at=now + dt.timedelta(hours=1)))
    db.session.commit()
    return token


def _denied(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    # The login page itself, not any path holding "/login" (/admin/logins is an admin page).
    path = urlsplit(response.headers.get("Location", "")).path
    return response.status_code in (301, 302, 303) and path == "/login"


def _call(client, method: str, url: str, token: str):
    headers = {"X-CSRFToken": token}
    if method == "GET":
        return client.get(url)
    if url.startswith("/api/"):
        return client.open(url, method=method, json={}, headers=headers)
    return client.open(url, method=method, data={"csrf_token": token})


@pytest.mark.parametrize("endpoint,method", sorted(RULES))
def test_authorization(app, client, build_world, endpoint, method):
    rule = RULES[(endpoint, method)]
    if rule.skip:
        pytest.skip(rule.skip)
    paths = [r.rule for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods]
    assert paths, f"{endpoint} {method} is not a route"
    world = build_world()
    wrong = []
    # Denied personas first: a request that is refused must change nothing for the others.
    used = False
    for persona in sorted(PERSONAS, key=lambda p: p in rule.allowed):
        if persona in rule.allowed and rule.fresh:
            if used:
                world = build_world()
            used = True
        user = world["people"].get(persona)
        token = _login(client, user)
        response = _call(client, method, _url(paths[0], world), token)
        response.close()
        allowed = not _denied(response) or (rule.to_login_ok and response.status_code == 302)
        if response.status_code >= 500:
            wrong.append(f"{persona}: {response.status_code}")
        elif allowed != (persona in rule.allowed):
            wrong.append(f"{persona}: {'allowed' if allowed else 'denied'} ({response.status_code})")
    assert not wrong, f"{method} {paths[0]}: " + ", ".join(wrong)
