"""A labelled set of Vietnamese recommendation passages in 10 themes ("lĩnh vực"), as wards write them.

Each passage is built from a theme's own subjects and actions inside frames shared by every theme
("Kiến nghị …", "Em xin đề xuất …", "Đề nghị cấp trên quan tâm …"), with or without marks, so a
model has to learn the theme's words, not the frame. Deterministic (seeded).
"""
from __future__ import annotations

import random
import unicodedata

THEMES: dict[str, dict[str, list[str]]] = {
    "Chuyển đổi số": {
        "subjects": ["chuyển đổi số", "dịch vụ công trực tuyến", "phần mềm quản lý hồ sơ", "chữ ký số",
                     "đường truyền internet", "máy tính cho bộ phận một cửa", "ứng dụng VNeID",
                     "cơ sở dữ liệu dân cư", "thanh toán không dùng tiền mặt", "tổ công nghệ số cộng đồng"],
        "actions": ["nâng cấp", "đầu tư trang bị", "tập huấn sử dụng", "kết nối liên thông", "số hoá",
                    "hướng dẫn người dân cài đặt"],
    },
    "Cải cách hành chính": {
        "subjects": ["thủ tục hành chính", "bộ phận tiếp nhận và trả kết quả", "quy trình giải quyết hồ sơ",
                     "thời gian giải quyết hồ sơ đất đai", "giấy tờ chứng thực", "lịch tiếp công dân",
                     "thái độ phục vụ của công chức", "hồ sơ trễ hạn", "văn bản hướng dẫn thủ tục",
                     "phí và lệ phí"],
        "actions": ["rút gọn", "công khai minh bạch", "đơn giản hoá", "giảm bớt", "chuẩn hoá",
                    "rà soát bãi bỏ"],
    },
    "Y tế": {
        "subjects": ["trạm y tế phường", "bảo hiểm y tế", "tiêm chủng mở rộng", "khám sức khoẻ định kỳ cho người cao tuổi",
                     "thuốc thiết yếu", "bác sĩ gia đình", "phòng chống sốt xuất huyết",
                     "an toàn vệ sinh thực phẩm", "trang thiết bị khám chữa bệnh", "nhân viên y tế ấp"],
        "actions": ["bổ sung", "tăng cường", "mở rộng", "kiểm tra giám sát", "nâng chất lượng",
                    "hỗ trợ kinh phí cho"],
    },
    "Giáo dục": {
        "subjects": ["trường tiểu học", "phòng học xuống cấp", "giáo viên mầm non", "học sinh bỏ học",
                     "thư viện trường", "bếp ăn bán trú", "học bổng cho học sinh nghèo",
                     "sách giáo khoa", "dạy thêm học thêm", "an toàn trường học"],
        "actions": ["sửa chữa", "bổ sung biên chế", "quan tâm hỗ trợ", "đầu tư xây dựng", "quản lý chặt",
                    "vận động"],
    },
    "Giao thông và hạ tầng": {
        "subjects": ["tuyến đường liên ấp", "cầu khỉ", "đèn chiếu sáng công cộng", "hệ thống thoát nước",
                     "mặt đường bị sụt lún", "cống thoát nước bị tắc", "đường giao thông nông thôn",
                     "bến đò ngang", "vỉa hè lấn chiếm", "biển báo giao thông"],
        "actions": ["nâng cấp mở rộng", "bê tông hoá", "sửa chữa kịp thời", "khảo sát đầu tư", "nạo vét",
                    "lắp đặt"],
    },
    "Môi trường": {
        "subjects": ["rác thải sinh hoạt", "kênh rạch ô nhiễm", "điểm tập kết rác", "rác thải nhựa",
                     "nước thải chăn nuôi", "cây xanh đô thị", "khói bụi từ cơ sở sản xuất",
                     "phân loại rác tại nguồn", "xe thu gom rác", "sạt lở bờ sông"],
        "actions": ["xử lý dứt điểm", "thu gom thường xuyên", "tuyên truyền giảm", "di dời", "trồng thêm",
                    "kiểm tra xử phạt"],
    },
    "An ninh trật tự": {
        "subjects": ["tệ nạn ma tuý", "trộm cắp vặt", "tổ tự quản an ninh", "camera an ninh",
                     "công an bán chuyên trách", "tín dụng đen", "đua xe trái phép", "người nghiện",
                     "lừa đảo qua mạng", "mâu thuẫn hàng xóm"],
        "actions": ["tuần tra", "xử lý nghiêm", "lắp đặt thêm", "phối hợp ngăn chặn", "tố giác",
                    "củng cố lực lượng"],
    },
    "Kinh tế và việc làm": {
        "subjects": ["vốn vay ưu đãi", "lao động thất nghiệp", "hộ kinh doanh cá thể", "làng nghề truyền thống",
                     "hợp tác xã", "sản phẩm OCOP", "đào tạo nghề cho thanh niên", "giá nông sản",
                     "chợ truyền thống", "doanh nghiệp nhỏ và vừa"],
        "actions": ["hỗ trợ", "tạo điều kiện tiếp cận", "giới thiệu việc làm cho", "xúc tiến tiêu thụ",
                    "phát triển", "tháo gỡ khó khăn cho"],
    },
    "Chính sách xã hội": {
        "subjects": ["hộ nghèo", "người có công", "nhà ở cho người thu nhập thấp", "trẻ em có hoàn cảnh khó khăn",
                     "người khuyết tật", "trợ cấp xã hội", "gia đình chính sách", "nhà tình nghĩa",
                     "người già neo đơn", "hộ cận nghèo"],
        "actions": ["chăm lo", "thăm hỏi tặng quà", "xét duyệt kịp thời", "hỗ trợ sửa chữa", "nâng mức",
                    "rà soát đúng đối tượng"],
    },
    "Xây dựng Đảng và chính quyền": {
        "subjects": ["sinh hoạt chi bộ", "đảng viên trẻ", "cán bộ cơ sở", "công tác kiểm tra giám sát",
                     "tinh gọn bộ máy", "quy chế dân chủ ở cơ sở", "nghị quyết của Đảng", "bồi dưỡng lý luận chính trị",
                     "phát triển đảng viên mới", "tác phong lề lối làm việc"],
        "actions": ["nâng cao chất lượng", "đổi mới nội dung", "thường xuyên", "quán triệt", "chấn chỉnh",
                    "quan tâm bồi dưỡng"],
    },
}

FRAMES = [
    "Kiến nghị cấp trên {action} {subject}.",
    "Em xin đề xuất {action} {subject} trong thời gian tới.",
    "Đề nghị {level} quan tâm {action} {subject} để người dân được hưởng lợi.",
    "Cần {action} {subject}, vì hiện nay {problem}.",
    "Kiến nghị: {subject} còn nhiều bất cập, đề nghị {action}.",
    "{Subject} {problem}; đề xuất {level} {action} sớm.",
    "Mạnh dạn đề xuất {action} {subject} và {subject2}.",
    "Qua thực tế ở {place}, em kiến nghị {action} {subject}.",
]
LEVELS = ["thành phố", "UBND quận", "các sở ngành", "Đảng ủy phường", "cấp trên", "Ban Tổ chức"]
PROBLEMS = ["còn nhiều hạn chế", "người dân phản ánh nhiều", "chưa đáp ứng nhu cầu", "xuống cấp nghiêm trọng",
            "thiếu kinh phí", "chưa được quan tâm đúng mức"]
PLACES = ["phường Ninh Kiều", "xã Cờ Đỏ", "khu vực 3", "ấp Thạnh Lợi", "địa phương", "đơn vị em"]


def _strip_marks(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in text if not unicodedata.combining(c)))


def labelled_passages(per_theme: int = 40, seed: int = 15) -> list[tuple[str, str]]:
    """(passage, theme name) pairs, per_theme for each theme, shuffled within each theme."""
    rng = random.Random(seed)
    out = []
    for theme, words in THEMES.items():
        for i in range(per_theme):
            subject, subject2 = rng.sample(words["subjects"], 2)
            text = rng.choice(FRAMES).format(
                action=rng.choice(words["actions"]), subject=subject, subject2=subject2,
                Subject=subject[0].upper() + subject[1:], level=rng.choice(LEVELS),
                problem=rng.choice(PROBLEMS), place=rng.choice(PLACES))
            if i % 5 == 4:
                text = _strip_marks(text)  # typed without marks, as some phones do
            out.append((text, theme))
    return out
