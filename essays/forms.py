"""Forms of the essays pages: hand in an essay, grant an extension."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lms.forms import VnDateTimeField

ACCEPT = ".docx,.doc,.odt,.pdf,.txt,.jpg,.jpeg,.png,.heic,image/*"


class SubmitForm(FlaskForm):
    # Several files: the photos of the pages, in order. No `capture` attribute: it would make
    # phones open the camera only, and the trainee could not pick pages already photographed.
    file = MultipleFileField("Tệp bài thu hoạch (.docx, .doc, .odt, .pdf, .txt) hoặc ảnh chụp các trang bài",
                             render_kw={"accept": ACCEPT, "multiple": True})
    handwritten = BooleanField("Bài viết tay: nộp ảnh các trang để Ban Tổ chức đọc trực tiếp (không nhận dạng chữ)")
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
