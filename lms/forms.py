"""Forms of the host app (login, password, admin pages)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateTimeLocalField, PasswordField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

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


class CourseForm(FlaskForm):
    name = StringField("Tên lớp", validators=[DataRequired(REQUIRED), Length(max=300)])
    starts_on = StringField("Ngày bắt đầu (dd/mm/yyyy)", validators=[DataRequired(REQUIRED)])
    ends_on = StringField("Ngày kết thúc (dd/mm/yyyy)", validators=[DataRequired(REQUIRED)])
    essay_due = DateTimeLocalField("Hạn nộp bài", format="%Y-%m-%dT%H:%M",
                                   validators=[DataRequired("Vui lòng nhập hạn nộp bài hợp lệ.")])
    cutoff = DateTimeLocalField("Hạn chót (sau thời điểm này không nhận bài)", format="%Y-%m-%dT%H:%M",
                                validators=[DataRequired("Vui lòng nhập hạn chót hợp lệ.")])
    topics = TextAreaField("Chủ đề (mỗi dòng một chủ đề)", validators=[DataRequired(REQUIRED)])

    def validate_cutoff(self, field: DateTimeLocalField) -> None:
        if self.essay_due.data and field.data and field.data < self.essay_due.data:
            raise ValidationError("Hạn chót không được sớm hơn hạn nộp bài.")


class UserForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[DataRequired(REQUIRED), Length(max=80)])
    full_name = StringField("Họ và tên", validators=[DataRequired(REQUIRED), Length(max=200)])
    role = SelectField("Vai trò", choices=[])
    unit_code = StringField("Mã đơn vị (cán bộ đơn vị, học viên)", validators=[Optional(), Length(max=20)])
