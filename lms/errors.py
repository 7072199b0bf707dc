"""Errors the API answers as JSON: `ApiError` and the default code and message of each status.

Apart from lms/api.py so that lms.transaction (which lms.api uses) can raise it without an import cycle.
"""
from __future__ import annotations

ERROR_MESSAGES = {
    400: ("bad_request", "Yêu cầu không hợp lệ."),
    401: ("unauthorized", "Vui lòng đăng nhập hoặc gửi mã truy cập (Bearer token) hợp lệ."),
    403: ("forbidden", "Bạn không có quyền thực hiện thao tác này."),
    404: ("not_found", "Không tìm thấy."),
    405: ("method_not_allowed", "Phương thức không được hỗ trợ."),
    409: ("conflict", "Xung đột dữ liệu, vui lòng thử lại."),
    413: ("too_large", "Tệp quá lớn."),
    422: ("invalid", "Dữ liệu không hợp lệ."),
    429: ("too_many_requests", "Quá nhiều yêu cầu, vui lòng thử lại sau."),
    500: ("server_error", "Lỗi máy chủ, vui lòng thử lại sau."),
}


class ApiError(Exception):
    """Raised by API views: becomes {"error": {"code", "message"}} with the HTTP status."""

    def __init__(self, status: int, message: str | None = None, code: str | None = None) -> None:
        default_code, default_message = ERROR_MESSAGES.get(status, ("error", "Lỗi."))
        super().__init__(message or default_message)
        self.status, self.code, self.message = status, code or default_code, message or default_message
