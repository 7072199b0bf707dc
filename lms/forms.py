"""Forms of the host app (login, password, admin pages)."""
from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from wtforms import (BooleanField, PasswordField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from lms.timefmt import parse_vn_datetime

REQUIRED = "Vui lòng nhập trường này."


class EmptyForm(FlaskForm):
    """A POST-only button: carries the CSRF token and nothing else."""


class LoginForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[DataRequired(REQUIRED), Length(max=80)])
    password = PasswordField("Mật khẩu", validators=[DataRequired(REQUIRED), Length(max=200)])
    remember = BooleanField("Ghi nhớ đăng nhập")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Mật khẩu hiện tại", validators=[DataRequired(REQUIRED)])
    new = PasswordField("Mật khẩu mới", validators=[
        DataRequired(REQUIRED), Length(min=8, max=200, message="Mật khẩu mới phải có từ 8 ký tự trở lên.")])
    confirm = PasswordField("Nhập lại mật khẩu mới", validators=[
        DataRequired(REQUIRED), EqualTo("new", message="Hai lần nhập mật khẩu mới không khớp.")])


class UnitForm(FlaskForm):
    code = StringField("Mã đơn vị", validators=[DataRequired(REQUIRED), Length(max=20)])
    name = StringField("Tên đơn vị", validators=[DataRequired(REQUIRED), Length(max=200)])


DT_HINT = "ngày/tháng/năm giờ:phút, giờ Việt Nam — ví dụ 27/05/2026 17:00"


class VnDateTimeField(StringField):
    """One date-time input everywhere: typed or picked as dd/mm/yyyy HH:MM (Vietnam time), whatever the
    browser's language; `data` is a naive datetime (lms.timefmt.parse_local makes it UTC).

    Rendered as a text box with `data-datetime` (lms/static/app.js adds the picker, which writes this
    format) and the format as a hint under the label, never as a placeholder that looks like a value.
    ISO "2026-05-27T17:00" is accepted too (scripts, older forms).
    """

    def __init__(self, label: str | None = None, validators=None, **kwargs) -> None:
        render_kw = {"data-datetime": "", "inputmode": "numeric", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        kwargs.setdefault("description", DT_HINT)
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.data: dt.datetime | None = None

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return self.data.strftime("%d/%m/%Y %H:%M") if isinstance(self.data, dt.datetime) else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        text = " ".join(v.strip() for v in valuelist if v).strip()
        if not text:
            self.data = None
            return
        try:
            self.data = parse_vn_datetime(text)
        except ValueError as exc:
            self.data = None
            raise ValueError(f"Thời điểm không hợp lệ; hãy ghi theo dạng {DT_HINT}.") from exc


class CourseForm(FlaskForm):
    name = StringField("Tên lớp", validators=[DataRequired(REQUIRED), Length(max=300)])
    starts_on = StringField("Ngày bắt đầu (dd/mm/yyyy)", validators=[DataRequired(REQUIRED)])
    ends_on = StringField("Ngày kết thúc (dd/mm/yyyy)", validators=[DataRequired(REQUIRED)])
    essay_due = VnDateTimeField("Hạn nộp bài", validators=[DataRequired("Vui lòng nhập hạn nộp bài hợp lệ.")])
    cutoff = VnDateTimeField("Hạn chót (sau thời điểm này không nhận bài)",
                             validators=[DataRequired("Vui lòng nhập hạn chót hợp lệ.")])
    topics = TextAreaField("Chủ đề (mỗi dòng một chủ đề)", validators=[DataRequired(REQUIRED)])

    def validate_cutoff(self, field: VnDateTimeField) -> None:
        if self.essay_due.data and field.data and field.data < self.essay_due.data:
            raise ValidationError("Hạn chót không được sớm hơn hạn nộp bài.")


class CourseEditForm(FlaskForm):
    name = StringField("Tên lớp", validators=[DataRequired(REQUIRED), Length(max=300)])
    description = TextAreaField("Mô tả", validators=[Optional(), Length(max=5000)])
    essay_due = VnDateTimeField("Hạn nộp bài", validators=[DataRequired("Vui lòng nhập hạn nộp bài hợp lệ.")])
    cutoff = VnDateTimeField("Hạn chót (sau thời điểm này không nhận bài)",
                             validators=[DataRequired("Vui lòng nhập hạn chót hợp lệ.")])


class TopicForm(FlaskForm):
    title = StringField("Tên chủ đề", validators=[DataRequired(REQUIRED), Length(max=500)])


class UserForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[DataRequired(REQUIRED), Length(max=80)])
    full_name = StringField("Họ và tên", validators=[DataRequired(REQUIRED), Length(max=200)])
    role = SelectField("Vai trò", choices=[])
    unit_code = StringField("Mã đơn vị (cán bộ đơn vị, học viên)", validators=[Optional(), Length(max=20)])
