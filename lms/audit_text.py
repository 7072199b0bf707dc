"""The audit log in Vietnamese: what each recorded action and detail means to the person reading it.

The stored codes stay stable (scripts filter on them); pages show these words, the code beside.
"""
from __future__ import annotations

import re

ACTIONS = {
    "access.denied": "Bị từ chối truy cập",
    "attendance.marked": "Ghi điểm danh",
    "backup.restored": "Khôi phục bản sao lưu",
    "compilation.exported": "Tải bản tổng hợp kiến nghị, đề xuất",
    "course.created": "Tạo lớp học",
    "course.updated": "Sửa lớp học",
    "course.topics_changed": "Sửa chủ đề của lớp",
    "essay.submitted": "Nộp bài thu hoạch",
    "essay.viewed": "Xem bài của người khác",
    "essay.downloaded": "Tải tệp bài của người khác",
    "essays.exported": "Tải bài của đơn vị",
    "exemption.granted": "Miễn nộp",
    "exemption.removed": "Bỏ miễn nộp",
    "extension.granted": "Gia hạn nộp bài",
    "group.confirmed": "Xác nhận nhóm ý kiến",
    "job.downloaded": "Tải kết quả việc chạy nền",
    "login": "Đăng nhập",
    "login.failed": "Đăng nhập sai",
    "login.released": "Mở khóa đăng nhập",
    "login.throttled": "Tạm khóa đăng nhập (sai nhiều lần)",
    "lti.accounts_merged": "Gộp tài khoản LMS",
    "lti.deep_link_cancelled": "Hủy chọn nội dung từ LMS",
    "lti.deep_link_started": "Bắt đầu chọn nội dung từ LMS",
    "lti.deep_linked": "Gắn bài thu hoạch vào LMS",
    "lti.launch": "Vào từ LMS",
    "lti.link_moved": "Chuyển liên kết tài khoản LMS",
    "lti.merge_needed": "Cần gộp tài khoản LMS",
    "lti.platform_added": "Đăng ký LMS",
    "lti.roster_synced": "Đồng bộ danh sách từ LMS",
    "lti.scores_sent": "Gửi điểm về LMS",
    "lti.user_linked": "Liên kết tài khoản LMS",
    "password.changed": "Đổi mật khẩu",
    "password.reset": "Cấp lại mật khẩu",
    "password.set": "Đặt mật khẩu (dòng lệnh)",
    "reminders.sent": "Nhắc học viên chưa nộp",
    "report.exported": "Xuất báo cáo",
    "report.settings_saved": "Lưu thiết lập báo cáo",
    "review.assigned": "Phân công đọc bài",
    "review.unassigned": "Bỏ phân công đọc bài",
    "roster.credentials": "Tải danh sách tài khoản",
    "roster.imported": "Nhập danh sách học viên",
    "roster.rejected": "Từ chối tệp danh sách",
    "sessions.ended": "Đăng xuất mọi thiết bị",
    "theme.created": "Thêm lĩnh vực",
    "theme.merged": "Gộp lĩnh vực",
    "theme.renamed": "Đổi tên lĩnh vực",
    "theme.restored": "Dùng lại lĩnh vực",
    "theme.retired": "Ngừng dùng lĩnh vực",
    "theme.updated": "Sửa lĩnh vực",
    "token.created": "Tạo mã truy cập API",
    "unit.added": "Thêm đơn vị",
    "units.loaded": "Nạp danh sách đơn vị",
    "user.created": "Tạo tài khoản",
}

KEYS = {
    "role": "vai trò", "by": "bởi", "sessions": "số phiên", "course": "lớp", "topic": "chủ đề",
    "until": "đến", "format": "định dạng", "as_of": "tính đến", "version": "lần nộp", "late": "nộp muộn",
    "present": "có mặt", "changed": "thay đổi", "reason": "lý do", "into": "vào", "tags_moved": "số thẻ chuyển",
    "reviewer": "người đọc", "messages": "số thư", "accounts": "số tài khoản", "created": "tạo mới",
    "updated": "cập nhật", "on_behalf_of": "nộp hộ cho", "unit": "đơn vị", "notices": "thông báo",
    "emails": "thư điện tử", "sha256": "SHA-256", "themes": "lĩnh vực", "kind": "loại",
}
VALUES = {"now": "hiện tại", "all": "tất cả", "officer": "cán bộ đơn vị", "admin": "quản trị viên",
          "reviewer": "Ban Tổ chức", "trainee": "học viên"}
_PAIR = re.compile(r"\b([a-z_0-9]+)=(\S+)")


def action_label(action: str) -> str:
    """The action in Vietnamese (the code itself when unknown)."""
    return ACTIONS.get(action, action)


def detail_text(detail: str | None) -> str:
    """key=value details in Vietnamese words ("format=docx as_of=now" -> "định dạng: docx; tính đến: hiện tại")."""
    if not detail:
        return ""

    def word(match: re.Match) -> str:
        key, value = match.group(1), match.group(2).rstrip(";,")
        if key not in KEYS:
            return match.group(0)
        if key == "late":
            value = "có" if value in ("1", "True", "true") else "không"
        return f"{KEYS[key]}: {VALUES.get(value, value)};"

    return _PAIR.sub(word, detail).rstrip(";").replace(";;", ";")
