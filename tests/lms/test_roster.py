"""Roster import: files as offices send them, all-or-nothing validation, matching, permissions."""
from __future__ import annotations

import datetime as dt
import io
import tarfile
import unicodedata
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, func, select

from lms.db import db, utcnow
from lms.models import Enrollment, Role, User
from lms.roster import RosterRejected, import_roster
from lms.security import verify_password
from tests.conftest import Auth
from tests.lms.roster_files import HEADER, csv_bytes, person, xlsx


@pytest.fixture
def wards(make_unit):
    """Two wards as loaded from the official list: Ninh Kiều and Cờ Đỏ."""
    return make_unit(code="31135", name="Phường Ninh Kiều"), make_unit(code="31261", name="Xã Cờ Đỏ", kind="xã")


@pytest.fixture
def course(make_course):
    return make_course(name="Lớp 23–24/5/2026")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def rejected(data: bytes, filename: str, course_id: int, **kwargs) -> list[tuple[int | None, str]]:
    """Import expecting a refusal; the errors as (row, message), with nothing written."""
    users_before = count(User)
    with pytest.raises(RosterRejected) as info:
        import_roster(data, filename, course_id, **kwargs)
    db.session.rollback()
    assert count(User) == users_before and count(Enrollment) == 0
    return [(e.row, e.message) for e in info.value.errors]


def user_named(full_name: str) -> User:
    return db.session.scalar(select(User).where(User.full_name == full_name))


# --- a large valid file ------------------------------------------------------------------------

def test_5000_rows_import_with_few_queries(app, wards, course):
    rows = [person(n, unit="31135" if n % 2 else "Xã Cờ Đỏ") for n in range(1, 5001)]
    rows[9] = person(10, name="Trần Thị Ánh", birth="05/03/1985", unit="X. Co Do", position="Bí thư Đoàn",
                     phone="0912 345 678", email="Anh.Tran@CanTho.gov.vn")
    data = xlsx(rows, title_rows=[["DANH SÁCH HỌC VIÊN"], ["Lớp bồi dưỡng 23–24/5/2026"], []])
    statements: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine()
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        result = import_roster(data, "danh-sach.xlsx", course.id)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    db.session.commit()

    assert (result.rows, result.created, result.updated, result.enrolled) == (5000, 5000, 0, 5000)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) < 40, f"{len(selects)} SELECTs"
    assert count(User) == 5000 and count(Enrollment) == 5000

    anh = user_named("Trần Thị Ánh")
    assert (anh.birth_date, anh.position, anh.unit.code, anh.phone, anh.email, anh.role) == (
        dt.date(1985, 3, 5), "Bí thư Đoàn", "31261", "0912345678", "anh.tran@cantho.gov.vn", Role.trainee)
    assert anh.username == "tranthianh.31261"
    passwords = {user_id: password for user_id, _, password in result.new_accounts}
    assert verify_password(anh, passwords[anh.id])
    first = user_named("Nguyễn Văn Thử 1")
    assert (first.birth_date, first.unit.code, first.phone, first.email, first.username) == (
        dt.date(1971, 2, 2), "31135", "0900000001", "hv1@cantho.gov.vn", "nguyenvanthu1.31135")
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == anh.id))
    assert (enrollment.course_id, enrollment.unit.code) == (course.id, "31261")
    assert len({u for u in db.session.scalars(select(User.username))}) == 5000


def test_cli_imports_a_csv(runner, wards, course, tmp_path):
    path = tmp_path / "ds.csv"
    path.write_bytes(csv_bytes([person(1), person(2, unit="Phuong Ninh Kieu")], sep=";", encoding="utf-8-sig"))
    sheet = tmp_path / "tai-khoan.xlsx"
    result = runner.invoke(args=["roster", "import", str(path), "--course", str(course.id), "--credentials", str(sheet)])
    assert result.exit_code == 0, result.output
    assert "tạo mới 2 tài khoản" in result.output
    # The initial passwords go to that file only, readable by its owner alone.
    assert sheet.stat().st_mode & 0o777 == 0o600
    rows = list(load_workbook(sheet).active.iter_rows(values_only=True))[1:]
    assert len(rows) == 2 and all(verify_password(user_named(name), password) for _, name, _, _, _, password in rows)
    bad = tmp_path / "sai.csv"
    bad.write_bytes(csv_bytes([person(3, unit="Phường Không Có")]))
    result = runner.invoke(args=["roster", "import", str(bad), "--course", str(course.id)])
    assert result.exit_code == 1
    assert "Dòng 2: Không tìm thấy đơn vị “Phường Không Có”" in result.output
    assert count(User) == 2


# --- bad files: nothing imported, every error named with its row ---------------------------------

def test_every_bad_row_is_listed_and_nothing_is_imported(app, wards, course):
    rows = [person(1), person(2, name=""), person(3, unit="Phường Không Có"), person(4, birth="31/02/1990"),
            person(5), person(1, stt=6), person(7, email="khong-phai-email"), person(8, phone="", email="")]
    errors = rejected(xlsx(rows), "ds.xlsx", course.id)
    assert errors == [
        (3, "Thiếu họ và tên."),
        (4, "Không tìm thấy đơn vị “Phường Không Có” (ghi mã hoặc tên xã, phường, đơn vị)."),
        (5, "Ngày sinh “31/02/1990” không hợp lệ (cần dạng dd/mm/yyyy)."),
        (7, "Trùng người với dòng 2 (cùng tên đăng nhập, email, số điện thoại hoặc cùng họ tên và ngày sinh)."),
        (8, "Email “khong-phai-email” không hợp lệ."),
        (9, "Cần ít nhất số điện thoại hoặc email."),
    ]


@pytest.mark.parametrize("make_file, filename, expected", [
    (lambda: xlsx([person(1, name="   ")]), "a.xlsx", [(2, "Thiếu họ và tên.")]),
    (lambda: xlsx([person(1, unit="Phường Không Có")]), "a.xlsx",
     [(2, "Không tìm thấy đơn vị “Phường Không Có” (ghi mã hoặc tên xã, phường, đơn vị).")]),
    (lambda: csv_bytes([person(1, birth="1990-13-01")]), "a.csv",
     [(2, "Ngày sinh “1990-13-01” không hợp lệ (cần dạng dd/mm/yyyy).")]),
    (lambda: xlsx([person(1), person(2), person(1, stt=3)]), "a.xlsx",
     [(4, "Trùng người với dòng 2 (cùng tên đăng nhập, email, số điện thoại hoặc cùng họ tên và ngày sinh).")]),
    (lambda: xlsx([person(1)[:4]], header=HEADER[:4]), "a.xlsx",
     [(1, "Thiếu cột: Đơn vị, Điện thoại hoặc Email.")]),
    (lambda: b"", "a.xlsx", [(None, "Tệp trống, không có dữ liệu.")]),
    (lambda: b"\r\n\r\n", "a.csv", [(None, "Tệp trống, không có dữ liệu.")]),
    (lambda: xlsx([]), "a.xlsx", [(1, "Tệp không có dòng học viên nào dưới dòng tiêu đề.")]),
    (lambda: bytes(range(256)) * 20, "a.xlsx", [(None, "Tệp không phải bảng tính Excel (.xlsx) hợp lệ.")]),
    (lambda: _docx_bytes(), "danh-sach.xlsx",
     [(None, "Tệp không phải bảng tính Excel (.xlsx) hợp lệ hoặc đã bị hỏng.")]),
    (lambda: b"%PDF-1.4 danh sach", "danh-sach.pdf", [(None, "Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv).")]),
    (lambda: xlsx([person(1)]), "danh-sach.docx", [(None, "Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv).")]),
    (lambda: csv_bytes([["Nguyễn Văn A", "x"]], header=["Ghi chú", "Khác"]), "a.csv",
     [(None, "Không tìm thấy dòng tiêu đề trong 10 dòng đầu. Cần các cột: Họ và tên, Ngày sinh, Chức vụ, "
             "Đơn vị, Điện thoại và/hoặc Email (tùy chọn: Tên đăng nhập).")]),
], ids=["missing-name", "unknown-unit", "bad-date", "duplicate-row", "wrong-columns", "empty-xlsx", "empty-csv",
        "header-only", "random-bytes", "docx-renamed", "pdf", "xlsx-named-docx", "no-header"])
def test_bad_file_is_refused_with_its_error(app, wards, course, make_file, filename, expected):
    assert rejected(make_file(), filename, course.id) == expected


def _docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_username_of_another_person_and_staff_accounts_are_refused(app, wards, course, make_user):
    make_user(Role.trainee, unit=wards[0], username="nguyenvana", full_name="Nguyễn Văn A")
    make_user(Role.officer, unit=wards[0], username="canbo", full_name="Lê Cán Bộ", email="canbo@cantho.gov.vn")
    header = HEADER + ["Tên đăng nhập"]
    rows = [person(1, name="Phạm Thị B") + ["nguyenvana"], person(2, email="canbo@cantho.gov.vn") + [""],
            person(3) + ["Tên Sai"]]
    assert rejected(xlsx(rows, header=header), "a.xlsx", course.id) == [
        (2, "Tên đăng nhập “nguyenvana” không dùng được cho người này; để trống cột này để hệ thống tự tạo."),
        (3, "e-mail đã được dùng cho một tài khoản khác; kiểm tra lại, hoặc liên hệ quản trị viên "
            "nếu đúng là người này."),
        (4, "Tên đăng nhập “Tên Sai” không hợp lệ (chỉ gồm chữ thường không dấu, chữ số, dấu chấm, gạch; "
            "2–80 ký tự)."),
    ]
    assert db.session.scalar(select(User.role).where(User.username == "canbo")) == Role.officer


def test_officer_scope_refuses_rows_of_other_units(app, wards, course):
    rows = [person(1), person(2, unit="31261")]
    assert rejected(xlsx(rows), "a.xlsx", course.id, only_unit_id=wards[0].id) == [
        (3, "Đơn vị “Xã Cờ Đỏ” không phải đơn vị của bạn; chỉ được nhập học viên của đơn vị mình.")]


# --- matching: re-imports update, never duplicate -----------------------------------------------

def test_reimport_updates_and_never_duplicates(app, wards, course):
    rows = [person(n) for n in range(1, 21)]
    first = import_roster(xlsx(rows), "a.xlsx", course.id)
    db.session.commit()
    assert (first.created, first.enrolled) == (20, 20)
    usernames = dict(db.session.execute(select(User.full_name, User.username)).all())

    again = import_roster(xlsx(rows), "a.xlsx", course.id)
    db.session.commit()
    assert (again.created, again.updated, again.unchanged, again.enrolled) == (0, 0, 20, 0)

    # Same people with new details, matched by phone, by email, by name + birth date, and moved unit.
    rows[0] = person(1, email="moi@cantho.gov.vn", position="Phó Bí thư")
    rows[1] = person(2, phone="")
    rows[2] = person(3, phone="0999999999", email="")
    rows[3] = person(4, unit="31261")
    changed = import_roster(csv_bytes(rows), "a.csv", course.id)
    db.session.commit()
    # Row 2's blank phone keeps the stored one: nothing to change there.
    assert (changed.created, changed.updated, changed.unchanged, changed.enrolled) == (0, 3, 17, 0)
    assert count(User) == 20 and count(Enrollment) == 20
    assert dict(db.session.execute(select(User.full_name, User.username)).all()) == usernames
    one = user_named("Nguyễn Văn Thử 1")
    assert (one.email, one.position, one.phone) == ("moi@cantho.gov.vn", "Phó Bí thư", "0900000001")
    assert user_named("Nguyễn Văn Thử 3").phone == "0999999999"
    moved = db.session.scalar(select(Enrollment).where(Enrollment.user_id == user_named("Nguyễn Văn Thử 4").id))
    assert moved.unit.code == "31261" and user_named("Nguyễn Văn Thử 4").unit.code == "31261"


def test_same_people_into_a_second_course_enrol_the_same_accounts(app, wards, course, make_course):
    second = make_course(name="Lớp tháng 6")
    rows = [person(n) for n in range(1, 11)]
    import_roster(xlsx(rows), "a.xlsx", course.id)
    db.session.commit()
    result = import_roster(xlsx(rows), "a.xlsx", second.id)
    db.session.commit()
    assert (result.created, result.enrolled) == (0, 10)
    assert count(User) == 10
    per_user = db.session.execute(select(Enrollment.user_id, func.count()).group_by(Enrollment.user_id)).all()
    assert len(per_user) == 10 and {n for _, n in per_user} == {2}


def test_given_username_is_used_and_matched(app, wards, course):
    header = HEADER + ["Tên đăng nhập"]
    import_roster(xlsx([person(1) + ["hv.ninhkieu.1"]], header=header), "a.xlsx", course.id)
    db.session.commit()
    assert user_named("Nguyễn Văn Thử 1").username == "hv.ninhkieu.1"
    result = import_roster(xlsx([person(1, phone="0911111111") + ["HV.NinhKieu.1"]], header=header), "a.xlsx",
                           course.id)
    db.session.commit()
    assert (result.created, result.updated) == (0, 1)


# --- what offices type -------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    ["STT", "HỌ VÀ TÊN", "NGÀY SINH", "CHỨC VỤ", "ĐƠN VỊ", "SĐT", "E-MAIL"],
    ["tt", "Ho ten", "Ngay sinh", "Chuc vu", "Diem cau", "So dien thoai", "email"],
    ["Số TT", "  Họ  tên ", "Ngày sinh (dd/mm/yyyy)", "Chức danh", "Điểm cầu", "Điện thoại", "Thư điện tử"],
])
def test_header_variants_and_title_rows(app, wards, course, header):
    rows = [person(1, unit="P. Ninh Kiều"), person(2, unit="Xa Co Do")]
    title = [["ĐẢNG BỘ THÀNH PHỐ CẦN THƠ"], ["DANH SÁCH HỌC VIÊN THAM DỰ LỚP BỒI DƯỠNG"], [], ["", "(kèm theo công văn)"]]
    result = import_roster(xlsx(rows, header=header, title_rows=title), "a.xlsx", course.id)
    assert result.created == 2
    assert user_named("Nguyễn Văn Thử 2").unit.code == "31261"


def test_columns_in_any_order_and_errors_name_the_spreadsheet_row(app, wards, course):
    header = ["Email", "Đơn vị", "Họ và tên", "Ngày sinh"]
    rows = [["a@x.vn", "31135", "Lê Văn A", "01/02/1980"], ["b@x.vn", "31135", "Lê Văn B", "1/2/80"]]
    errors = rejected(csv_bytes(rows, header=header, title_rows=[["Danh sách"], []]), "a.csv", course.id)
    assert errors == [(5, "Ngày sinh “1/2/80” không hợp lệ (cần dạng dd/mm/yyyy).")]


def test_nfd_names_are_stored_nfc_with_single_spaces(app, wards, course):
    nfd = unicodedata.normalize("NFD", "  Huỳnh   Thị Ánh  Tuyết ")
    import_roster(xlsx([person(1, name=nfd)]), "a.xlsx", course.id)
    db.session.commit()
    stored = db.session.scalar(select(User.full_name))
    assert stored == "Huỳnh Thị Ánh Tuyết" and unicodedata.is_normalized("NFC", stored)


def test_dates_as_excel_dates_serials_and_text(app, wards, course):
    rows = [person(1, birth=dt.datetime(1980, 12, 31)), person(2, birth="05/06/1975"), person(3, birth="5-6-1976"),
            person(4, birth=29221), person(5, birth="1990-07-08")]
    import_roster(xlsx(rows), "a.xlsx", course.id)
    db.session.commit()
    births = [user_named(f"Nguyễn Văn Thử {n}").birth_date for n in range(1, 6)]
    assert births == [dt.date(1980, 12, 31), dt.date(1975, 6, 5), dt.date(1976, 6, 5), dt.date(1980, 1, 1),
                      dt.date(1990, 7, 8)]


@pytest.mark.parametrize("encoding, sep", [("utf-8", ","), ("utf-8-sig", ";"), ("utf-16", "\t"),
                                           ("cp1258", ";")])
def test_csv_encodings_and_separators(app, wards, course, encoding, sep):
    rows = [person(1, name="Đặng Thị Hồng Nhung", unit="Phường Ninh Kiều", position="Phó Chủ tịch, UBND")]
    result = import_roster(csv_bytes(rows, sep=sep, encoding=encoding), "a.csv", course.id)
    assert result.created == 1
    user = user_named("Đặng Thị Hồng Nhung")
    assert user is not None and user.position == "Phó Chủ tịch, UBND"


def test_phone_typed_as_excel_number_keeps_its_leading_zero(app, wards, course):
    import_roster(xlsx([person(1, phone=912345678)]), "a.xlsx", course.id)
    assert user_named("Nguyễn Văn Thử 1").phone == "0912345678"


# --- pages and API -----------------------------------------------------------------------------

def _upload(auth, course_id: int, data: bytes, filename: str = "ds.xlsx", with_csrf: bool = True):
    form = {"course": str(course_id), "file": (io.BytesIO(data), filename)}
    if with_csrf:
        return auth.post("/roster/import", data=form, content_type="multipart/form-data")
    return auth.client.post("/roster/import", data=form, content_type="multipart/form-data")


def test_admin_imports_by_page_and_downloads_credentials(client, auth, wards, course, make_user):
    auth.login(make_user(Role.admin))
    assert "Nhập danh sách học viên" in client.get("/").get_data(as_text=True)
    rows = [person(1), person(2, name="=HYPERLINK(\"http://x\")"), person(3, unit="31261")]
    # CSV: openpyxl would have written the name as a formula.
    page = _upload(auth, course.id, csv_bytes(rows), filename="ds.csv").get_data(as_text=True)
    assert "Tài khoản tạo mới: 3" in page and "Ghi danh mới vào lớp: 3" in page
    assert f"/roster/credentials/31135.xlsx?course={course.id}" in page and "một lần" in page

    response = client.get(f"/roster/credentials/31135.xlsx?course={course.id}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    first, user = user_named("Nguyễn Văn Thử 1"), user_named('=HYPERLINK("http://x")')
    assert values[0] == ["STT", "Họ và tên", "Ngày sinh", "Đơn vị", "Tên đăng nhập", "Mật khẩu ban đầu"]
    assert [row[:5] for row in values[1:]] == [
        [1, first.full_name, first.birth_date.strftime("%d/%m/%Y"), "Phường Ninh Kiều", first.username],
        [2, "'=HYPERLINK(\"http://x\")", user.birth_date.strftime("%d/%m/%Y"), "Phường Ninh Kiều", user.username]]
    assert sheet["B3"].data_type == "s"
    assert verify_password(first, values[1][5]) and verify_password(user, values[2][5])
    # Handed out once: the sheet is gone after its download; the other unit's still waits.
    again = client.get(f"/roster/credentials/31135.xlsx?course={course.id}")
    assert again.status_code == 410 and "chỉ tải được một lần" in again.get_data(as_text=True)
    assert client.get(f"/roster/credentials/31261.xlsx?course={course.id}").status_code == 200


def test_page_lists_errors_with_row_numbers(client, auth, wards, course, make_user):
    auth.login(make_user(Role.admin))
    page = _upload(auth, course.id, xlsx([person(1), person(2, birth="32/01/1990")])).get_data(as_text=True)
    assert "Chưa nhập: 1 lỗi" in page
    assert "<td>3</td><td>Ngày sinh “32/01/1990” không hợp lệ (cần dạng dd/mm/yyyy).</td>" in page
    assert count(User) == 1  # the admin


def test_csrf_token_is_required(client, auth, wards, course, make_user):
    auth.login(make_user(Role.admin))
    response = _upload(auth, course.id, xlsx([person(1)]), with_csrf=False)
    assert response.status_code == 400
    assert count(User) == 1


def test_officer_cannot_import_into_nor_download_another_unit(client, auth, wards, course, make_user, make_course):
    ninh_kieu, co_do = wards
    other_trainee = make_user(Role.trainee, unit=co_do, full_name="Người Cờ Đỏ")
    db.session.add(Enrollment(course_id=course.id, user_id=other_trainee.id, unit_id=co_do.id))
    db.session.commit()
    officer = make_user(Role.officer, unit=ninh_kieu)
    auth.login(officer)
    page = _upload(auth, course.id, xlsx([person(1), person(2, unit="Xã Cờ Đỏ")])).get_data(as_text=True)
    assert "không phải đơn vị của bạn" in page
    assert count(User) == 2 and count(Enrollment) == 1
    assert client.get(f"/roster/credentials/31261.xlsx?course={course.id}").status_code == 404
    assert client.get("/roster/credentials/31261.xlsx").status_code == 404
    assert client.get("/roster/credentials/KHONGCO.xlsx").status_code == 404
    assert client.get(f"/roster/credentials/31135.xlsx?course={course.id}").status_code == 410  # nothing imported

    ok = _upload(auth, course.id, xlsx([person(1), person(2, unit="P. Ninh Kieu")])).get_data(as_text=True)
    assert "Tài khoản tạo mới: 2" in ok and "/roster/credentials/31261" not in ok
    assert client.get(f"/roster/credentials/31135.xlsx?course={course.id}").status_code == 200


def test_errors_never_name_another_units_account(app, wards, course, make_user):
    """Before: "Người này đã có tài khoản “tranthikiem.31261”" and "Tài khoản “canbo” là Cán bộ đơn vị"."""
    make_user(Role.trainee, unit=wards[1], username="tranthikiem.31261", full_name="Trần Thị Kiểm",
              email="kiem@x.vn")
    make_user(Role.reviewer, username="bantochuc", full_name="Ban Tổ Chức")
    header = HEADER + ["Tên đăng nhập"]
    rows = [person(1, name="Trần Thị Kiểm", email="kiem@x.vn") + ["kiem.moi"],
            person(2, name="Ai Đó") + ["bantochuc"]]
    errors = rejected(xlsx(rows, header=header), "a.xlsx", course.id, only_unit_id=wards[0].id)
    text = " ".join(message for _line, message in errors)
    assert "tranthikiem" not in text and "31261" not in text and "Cờ Đỏ" not in text
    assert "Ban Tổ chức" not in text and "Cán bộ" not in text
    assert errors[0] == (2, "e-mail đã được dùng cho một tài khoản khác; kiểm tra lại, hoặc liên hệ quản trị "
                            "viên nếu đúng là người này.")
    # A staff username reads exactly like any taken username.
    assert errors[1] == (3, "Tên đăng nhập “bantochuc” không dùng được cho người này; để trống cột này để hệ "
                            "thống tự tạo.")


def test_officer_cannot_move_a_trainee_of_another_unit(app, wards, course, make_user):
    make_user(Role.trainee, unit=wards[1], full_name="Người Cờ Đỏ", email="codo@x.vn")
    errors = rejected(xlsx([person(1, name="Người Cờ Đỏ", email="codo@x.vn")]), "a.xlsx", course.id,
                      only_unit_id=wards[0].id)
    assert errors == [(2, "Người này đang thuộc đơn vị khác; liên hệ quản trị viên để chuyển đơn vị.")]


@pytest.mark.parametrize("role", [Role.reviewer, Role.trainee])
def test_reviewers_and_trainees_get_403(client, auth, wards, course, make_user, api_token, role):
    user = make_user(role, unit=wards[0])
    auth.login(user)
    assert client.get("/roster/import").status_code == 403
    assert client.get(f"/roster/credentials/31135.xlsx?course={course.id}").status_code == 403
    response = client.post(f"/api/v1/courses/{course.id}/roster", headers=api_token(user),
                           data={"file": (io.BytesIO(xlsx([person(1)])), "a.xlsx")})
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert count(Enrollment) == 0


def test_api_imports_and_refuses_with_422(client, wards, course, make_user, api_token):
    officer = make_user(Role.officer, unit=wards[0])
    headers = api_token(officer)
    url = f"/api/v1/courses/{course.id}/roster"
    refused = client.post(url, headers=headers, data={"file": (io.BytesIO(xlsx([person(1), person(2, unit="31261")])),
                                                               "a.xlsx")})
    assert refused.status_code == 422
    assert refused.json["errors"] == [{"row": 3, "message": "Đơn vị “Xã Cờ Đỏ” không phải đơn vị của bạn; "
                                                             "chỉ được nhập học viên của đơn vị mình."}]
    assert count(Enrollment) == 0
    ok = client.post(url, headers=headers, data={"file": (io.BytesIO(csv_bytes([person(1), person(2)])), "a.csv")})
    assert ok.status_code == 200
    assert ok.json | {"units": None, "credentials": None} == {
        "created": 2, "updated": 0, "unchanged": 0, "enrolled": 2, "rows": 2, "units": None, "errors": [],
        "credentials": None}
    # The new accounts' initial passwords come in this one answer (stored nowhere in clear).
    assert ok.headers["Cache-Control"] == "no-store"
    handed = {c["username"]: c["password"] for c in ok.json["credentials"]}
    assert len(handed) == 2 and all(verify_password(db.session.scalar(select(User).where(User.username == name)),
                                                    password) for name, password in handed.items())
    assert client.post(url, headers=headers, data={}).status_code == 400
    assert client.post("/api/v1/courses/999/roster", headers=headers,
                       data={"file": (io.BytesIO(b"x"), "a.csv")}).status_code == 404


def test_api_with_a_cookie_session_needs_csrf(client, auth, wards, course, make_user):
    auth.login(make_user(Role.admin))
    response = client.post(f"/api/v1/courses/{course.id}/roster",
                           data={"file": (io.BytesIO(xlsx([person(1)])), "a.xlsx")})
    assert response.status_code == 400 and response.json["error"]["code"] == "csrf"
    assert count(User) == 1


def test_imports_are_audited(client, auth, wards, course, make_user):
    from lms.models import AuditEvent

    auth.login(make_user(Role.admin))
    _upload(auth, course.id, xlsx([person(1)]))
    _upload(auth, course.id, xlsx([person(2, name="")]))
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("roster.%"))).all()
    assert actions == ["roster.imported", "roster.rejected"]


def test_xlsx_table_away_from_a1_keeps_spreadsheet_row_numbers(app, wards, course):
    # calamine reads the sheet: blank leading rows and columns must still count.
    wb = Workbook()
    ws = wb.active
    ws["C4"], ws["D4"], ws["E4"], ws["F4"] = "Họ và tên", "Ngày sinh", "Đơn vị", "Email"
    ws.append([None, None, "Lê Văn A", dt.datetime(1980, 2, 1), "31135", "a@x.vn"])  # row 5
    ws.append([None, None, "Lê Văn B", "31/02/1980", "31135", "b@x.vn"])  # row 6
    out = io.BytesIO()
    wb.save(out)
    assert rejected(out.getvalue(), "a.xlsx", course.id) == [(6, "Ngày sinh “31/02/1980” không hợp lệ (cần dạng dd/mm/yyyy).")]


def test_initial_passwords_are_random_and_verify_against_their_hashes(app, wards, course):
    result = import_roster(xlsx([person(n) for n in range(1, 41)]), "a.xlsx", course.id)
    db.session.commit()
    users = {u.id: u for u in db.session.scalars(select(User))}
    given = {user_id: password for user_id, _, password in result.new_accounts}
    passwords = set(given.values())
    assert len(passwords) == 40
    assert all(len(p) == 10 and set(p) <= set("abcdefghjkmnpqrstuvwxyz23456789") for p in passwords)
    first, second = list(given)[:2]
    assert verify_password(users[first], given[first]) and verify_password(users[second], given[second])
    assert not verify_password(users[first], given[second])


def test_initial_passwords_are_never_stored_in_clear(app, client, auth, wards, course, make_user, tmp_path):
    """Before: `user.initial_password` kept each one in clear until changed, and so did every backup.
    Now the sheet waits sealed with a key only the importer's session holds; the database, a
    backup or another officer's session cannot open it, and the worker drops it once expired."""
    from lms.backup import write_backup
    from lms.credentials import purge_sheets
    from lms.models import CredentialSheet

    admin = make_user(Role.admin)
    auth.login(admin)
    page = _upload(auth, course.id, xlsx([person(n) for n in range(1, 6)])).get_data(as_text=True)
    assert "Tài khoản tạo mới: 5" in page
    columns = {c.name for c in User.__table__.columns}
    assert not {"initial_password"} & columns
    sealed = db.session.scalars(select(CredentialSheet)).all()
    assert len(sealed) == 1 and sealed[0].created_by_id == admin.id
    # Another administrator (another session, no key) gets nothing; the importer gets the sheet once.
    other = app.test_client()
    Auth(other).login(make_user(Role.admin))
    assert other.get(f"/roster/credentials/31135.xlsx?course={course.id}").status_code == 410
    backup = tmp_path / "b.tar.gz"
    write_backup(app, backup)
    response = client.get(f"/roster/credentials/31135.xlsx?course={course.id}")
    passwords = [row[5] for row in list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))[1:]]
    assert len(passwords) == 5
    with tarfile.open(backup) as tar:
        everything = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert not any(p.encode() in everything for p in passwords) and b"credential_sheet" not in everything
    assert db.session.scalar(select(func.count(CredentialSheet.id))) == 0
    # A sheet nobody fetched is deleted once expired.
    _upload(auth, course.id, xlsx([person(n) for n in range(6, 8)]))
    assert purge_sheets(utcnow() + dt.timedelta(hours=2)) == 1


def test_checks_and_hashing_run_before_the_write_lock(app, wards, course, monkeypatch):
    """Called outside a transaction (as pages, API and CLI do), parsing, checking and hashing leave
    SQLite's write lock free; a refused file never takes it."""
    import sqlite3

    import lms.roster as roster

    engine = db.engine()
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    course_id = course.id
    db.session.commit()
    begins: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        if statement.strip().upper().startswith("BEGIN"):
            begins.append(statement.strip().upper())

    free_while_hashing: list[bool] = []
    real_hash = roster._hash_initial_passwords

    def hash_and_probe(passwords: list[str]) -> list[str]:
        other = sqlite3.connect(engine.url.database, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer gets the lock at once
            other.rollback()
            free_while_hashing.append(True)
        except sqlite3.OperationalError:
            free_while_hashing.append(False)
        finally:
            other.close()
        return real_hash(passwords)

    monkeypatch.setattr(roster, "_hash_initial_passwords", hash_and_probe)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        bad = xlsx([person(1), person(2, birth="31/02/1980")])
        with pytest.raises(RosterRejected):
            import_roster(bad, "sai.xlsx", course_id)
        db.session.rollback()
        assert "BEGIN IMMEDIATE" not in begins and free_while_hashing == []
        result = import_roster(xlsx([person(n) for n in range(1, 301)]), "ds.xlsx", course_id)
        db.session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert free_while_hashing == [True]
    assert begins.count("BEGIN IMMEDIATE") == 1 and result.created == 300 and count(Enrollment) == 300
    passwords = {user_id: password for user_id, _, password in result.new_accounts}
    first = user_named("Nguyễn Văn Thử 1")
    assert verify_password(first, passwords[first.id])
