"""Forms of the essays pages: hand in an essay, grant an extension."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lms.forms import VnDateTimeField

ACCEPT = ".docx,.doc,.odt,.pdf,.txt"


class SubmitForm(FlaskForm):
    file = FileField("Tệp bài thu hoạch (.docx, .doc, .odt, .pdf hoặc .txt)", render_kw={"accept": ACCEPT})
    text = TextAreaField("Hoặc dán nội dung bài thu hoạch vào đây", validators=[Optional()],
                         render_kw={"rows": 10})


class ExtensionForm(FlaskForm):
    course = SelectField("Lớp học", coerce=int)
    trainee = StringField("Tên đăng nhập của học viên", validators=[Optional(), Length(max=80)])
    unit_code = StringField("Hoặc mã đơn vị (gia hạn cho cả đơn vị)", validators=[Optional(), Length(max=20)])
    topic = SelectField("Chủ đề", coerce=int)
    until = VnDateTimeField("Gia hạn đến (giờ Việt Nam)", validators=[DataRequired("Vui lòng nhập thời hạn mới hợp lệ.")])
    reason = TextAreaField("Lý do gia hạn", validators=[DataRequired("Vui lòng ghi lý do gia hạn."),
                                                        Length(max=2000)])
