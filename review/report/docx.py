"""The report as a Party body's report (.docx, python-docx): header, sections I–IV, signature, appendix."""
from __future__ import annotations

import datetime as dt
import io
from typing import Sequence

from lms.models import topic_label
from lms.text import vn_sort_key, xml_text
from lms.timefmt import fmt_date, fmt_datetime, to_local
from review.completeness.figures import day_column
from review.report.charts import _short, completeness_chart_png, themes_chart_png
from review.report.data import ReportData, distinct_passages
from review.report.formatting import date_line, share, vn_int, vn_pct
from review.report.prose import ReportProse
from review.tagging.models import KIND_LABELS, TAG_KINDS

# Section IV quotes at most this many distinct passages per theme; the .xlsx lists them all.
QUOTES_PER_THEME = 5


FONT = "Times New Roman"


def _set_run_font(run, size: float | None = None, bold: bool | None = None, italic: bool | None = None,
                  underline: bool | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.name = FONT
    r_fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    # East Asian and complex-script names too, or Word falls back to its own font for Vietnamese.
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        r_fonts.set(qn(attr), FONT)
    if size is not None:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic
    if underline is not None:
        run.underline = underline


def _setup_document():
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.header_distance = section.footer_distance = Mm(10)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    r_fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        r_fonts.set(qn(attr), FONT)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.1
    # The document defaults as well, so tables and Word's own styles use Times New Roman.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
        if rpr is not None:
            fonts = rpr.find(qn("w:rFonts"))
            if fonts is None:
                fonts = OxmlElement("w:rFonts")
                rpr.insert(0, fonts)
            for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
                fonts.set(qn(attr), FONT)
            for theme_attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
                fonts.attrib.pop(qn(theme_attr), None)
    _page_numbers(section)
    return doc


def _page_numbers(section) -> None:
    """Page number centred in the header from the second page (Party documents leave page 1 bare)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    section.different_first_page_header_footer = True
    paragraph = section.header.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run()
    _set_run_font(run, 13)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._element.append(element)


def _para(container, text: str = "", *, size: float = 14, bold: bool = False, italic: bool = False,
          align: str = "justify", indent: bool = False, before: float = 0, after: float = 6,
          underline: bool = False, keep_next: bool = False, paragraph=None):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    paragraph = paragraph if paragraph is not None else container.add_paragraph()
    paragraph.alignment = {"justify": WD_ALIGN_PARAGRAPH.JUSTIFY, "center": WD_ALIGN_PARAGRAPH.CENTER,
                           "left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT}[align]
    fmt = paragraph.paragraph_format
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if indent:
        fmt.first_line_indent = Cm(1.27)
    if keep_next:
        fmt.keep_with_next = True
    if text:
        run = paragraph.add_run(xml_text(text))
        _set_run_font(run, size, bold, italic, underline or None)
    return paragraph


def _cell_para(cell, text: str, **kwargs):
    """Write into a table cell: its first paragraph while still bare, then new ones."""
    paragraphs = cell.paragraphs
    first = paragraphs[0] if len(paragraphs) == 1 and not paragraphs[0].runs else None
    return _para(cell, text, paragraph=first, **kwargs)


def _no_borders(table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl_pr = table._element.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    tbl_pr.append(borders)


def _widths(table, widths_mm: Sequence[float]) -> None:
    """Fixed column widths, in the grid as well as on each cell (LibreOffice reads the grid, Word the cells)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    table.autofit = False
    grid = table._tbl.tblGrid
    for col, width in zip(grid.findall(qn("w:gridCol")), widths_mm):
        col.set(qn("w:w"), str(int(Mm(width).twips)))
    tbl_pr = table._tbl.tblPr
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.append(tbl_w)
    tbl_w.set(qn("w:type"), "dxa")
    tbl_w.set(qn("w:w"), str(int(Mm(sum(widths_mm)).twips)))
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm):
            cell.width = Mm(width)


def _cant_split(row) -> None:
    """Keep a table row on one page (the signature block must not be cut)."""
    from docx.oxml import OxmlElement

    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _header_block(doc, prose: ReportProse, as_of: dt.datetime) -> None:
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    # Slightly wider than the text block: the two headings fit on one line each, as in printed reports.
    _widths(table, [85, 83])
    left, right = table.rows[0].cells
    _cell_para(left, prose.parent_org.upper(), align="center", after=0)
    _cell_para(left, prose.org_name.upper(), bold=True, align="center", after=0)
    _cell_para(left, "*", align="center", after=0)
    number = prose.number.strip() or "-BC"
    _cell_para(left, f"Số {number}", align="center", after=0)
    _cell_para(right, "ĐẢNG CỘNG SẢN VIỆT NAM", size=15, bold=True, underline=True, align="center", after=12)
    _cell_para(right, date_line(prose.place, as_of), italic=True, align="right", after=0)


def _signature_block(doc, prose: ReportProse) -> None:
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    _widths(table, [80, 85])
    _cant_split(table.rows[0])
    left, right = table.rows[0].cells
    p = _cell_para(left, "", align="left", after=0)
    run = p.add_run("Nơi nhận:")
    _set_run_font(run, 12, bold=True, italic=True, underline=True)
    for line in [x.strip() for x in prose.recipients.splitlines() if x.strip()]:
        _cell_para(left, line if line.startswith("-") else f"- {line}", size=12, align="left", after=0)
    _cell_para(right, prose.signer_for.upper(), bold=True, align="center", after=0)
    _cell_para(right, prose.signer_title.upper(), bold=True, align="center", after=0)
    for _ in range(4):
        _cell_para(right, "", align="center", after=0)
    _cell_para(right, prose.signer_name, bold=True, align="center", after=0)


def _heading(doc, text: str) -> None:
    _para(doc, text, bold=True, before=6, indent=True, keep_next=True, align="left")


def _bullet(doc, text: str) -> None:
    _para(doc, f"- {text}", indent=True)


def _unit_names(names: list[str], limit: int = 12) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" và {vn_int(len(names) - limit)} đơn vị khác"


def _who(n_units: int, names: list[str], all_wards: bool) -> str:
    if n_units == 1:
        return names[0]
    return f"{vn_int(n_units)} {'phường, xã' if all_wards else 'đơn vị'}"


def report_docx(data: ReportData, prose: ReportProse) -> bytes:
    """The report as a Party body's report (Hướng dẫn 36-HD/VPTW): header, sections I–IV, signature, appendix."""
    doc = _setup_document()
    _header_block(doc, prose, data.as_of)
    _title(doc, data)
    _intro(doc, data, prose)
    _heading(doc, "I. TÌNH HÌNH TỔ CHỨC LỚP BỒI DƯỠNG")
    _organisation(doc, data)
    _heading(doc, "II. TÌNH HÌNH THAM GIA HỌC TẬP TẠI CÁC ĐIỂM CẦU")
    _participation(doc, data)
    _heading(doc, "III. KẾT QUẢ NỘP BÀI THU HOẠCH")
    _hand_ins(doc, data)
    if data.unit is not None:
        _ward_recommendations(doc, data, prose)
    else:
        _city_recommendations(doc, data, prose)
    _para(doc, (f"Trên đây là báo cáo kết quả tổ chức lớp bồi dưỡng và tổng hợp bài thu hoạch, kiến nghị, "
                f"đề xuất của học viên{' ' + data.unit.name if data.unit else ''}./."), indent=True, before=6, after=12,
          keep_next=True)
    _signature_block(doc, prose)
    _appendix(doc, data, prose)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _title(doc, data: ReportData) -> None:
    """“BÁO CÁO” and the subject, of the unit when the report is a unit's."""
    _para(doc, "BÁO CÁO", size=16, bold=True, align="center", before=18, after=0)
    title = _para(doc, "Kết quả tổ chức lớp bồi dưỡng và tổng hợp bài thu hoạch,", bold=True, align="center",
                  after=0)
    # The subject breaks where the sense does, not wherever the line runs out.
    title.runs[0].add_break()
    _set_run_font(title.add_run("kiến nghị, đề xuất"), 14, bold=True)
    if data.unit is not None:
        _para(doc, f"của {data.unit.name}", bold=True, align="center", after=0)
    _para(doc, "-----", align="center", after=12)


def _intro(doc, data: ReportData, prose: ReportProse) -> None:
    """The edited opening paragraph(s), or the default sentence."""
    as_of = to_local(data.as_of)
    intro = prose.intro.strip() or (
        f"Thực hiện chương trình bồi dưỡng năm {as_of.year}, {prose.body} báo cáo "
        f"kết quả tổ chức lớp “{data.course.name}” và tổng hợp bài thu hoạch, kiến nghị, đề xuất của học viên "
        f"(số liệu tính đến {as_of:%H} giờ {as_of:%M} ngày {fmt_date(as_of.date())}) như sau:")
    for line in intro.splitlines():
        if line.strip():
            _para(doc, line.strip(), indent=True)


def _organisation(doc, data: ReportData) -> None:
    """Section I: dates, connection points, trainees called, topics and deadlines."""
    f, t = data.figures, data.totals
    _para(doc, (f"Lớp được tổ chức từ ngày {fmt_date(data.course.starts_on)} đến ngày {fmt_date(data.course.ends_on)} "
                f"theo hình thức trực tuyến, kết nối tới {vn_int(t['units'])} điểm cầu "
                f"{'phường, xã, đặc khu' if data.place_word == 'phường, xã' else ''}".rstrip() +
                f"; tổng số học viên được triệu tập là {vn_int(t['enrolled'])} đồng chí."), indent=True)
    if data.course.description:
        _para(doc, data.course.description.strip(), indent=True)
    _para(doc, (f"Học viên viết bài thu hoạch theo {vn_int(len(f.topic_list))} chủ đề; hạn nộp bài "
                f"{fmt_datetime(data.course.essay_due_at)}, hạn chót nhận bài {fmt_datetime(data.course.cutoff_at)}."),
          indent=True)
    for r in data.topic_rows():
        _bullet(doc, f"{topic_label(r['position'], r['title'])}.")


def _hand_ins(doc, data: ReportData) -> None:
    """Section III: essays expected, handed in, on time and late, per topic and (several units) per unit."""
    f, t = data.figures, data.totals
    _para(doc, (f"Tổng số bài phải nộp: {vn_int(t['expected'])} bài ({vn_int(t['enrolled'])} học viên × "
                f"{vn_int(len(f.topic_list))} chủ đề, trừ {vn_int(t['exempt'])} bài được miễn nộp). "
                f"Đã nộp {vn_int(t['submitted'])} bài, đạt {vn_pct(t['percent'])}; trong đó nộp đúng hạn "
                f"{vn_int(t['on_time'])} bài, nộp muộn {vn_int(t['late'])} bài. Chưa nộp "
                f"{vn_int(t['missing'] + t['extension'])} bài (trong đó {vn_int(t['extension'])} bài đang được "
                f"gia hạn)."), indent=True)
    for r in data.topic_rows():
        _bullet(doc, f"Chủ đề {r['position']}: đã nộp {vn_int(r['submitted'])}/{vn_int(r['expected'])} bài "
                     f"({vn_pct(r['percent'])}), đúng hạn {vn_int(r['on_time'])}, muộn {vn_int(r['late'])}, "
                     f"chưa nộp {vn_int(r['missing'] + r['extension'])}.")
    if t["units"] <= 1:
        return
    records = [u for u in f.units.to_dict("records") if u["expected"]]
    done = [u["name"] for u in records if u["percent"] == 100.0]
    below = sorted([u for u in records if u["percent"] is not None and u["percent"] < 80],
                   key=lambda u: (u["percent"], vn_sort_key(u["name"])))
    if done:
        _bullet(doc, f"{vn_int(len(done))} điểm cầu đã hoàn thành 100% bài thu hoạch.")
    if below:
        _bullet(doc, f"{vn_int(len(below))} điểm cầu đạt dưới 80%: "
                     + _unit_names([f"{u['name']} ({vn_pct(u['percent'])})" for u in below], 15) + ".")
    _para(doc, "(Tỉ lệ hoàn thành của từng đơn vị: xem Phụ lục và Biểu đồ 2 kèm theo.)", italic=True, indent=True)


def _page_section(doc, landscape: bool) -> None:
    """A new A4 section on a new page: landscape for the appendix table, portrait with the text's margins."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.shared import Mm

    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = (Mm(20) if landscape else Mm(30)), Mm(15)


def _appendix(doc, data: ReportData, prose: ReportProse) -> None:
    """Appendix: one row per unit on landscape pages, then (several units) the per-unit chart."""
    _page_section(doc, landscape=True)
    _para(doc, "PHỤ LỤC", bold=True, align="center", after=0)
    _para(doc, "SỐ LIỆU THAM GIA HỌC TẬP VÀ NỘP BÀI THU HOẠCH THEO ĐƠN VỊ", bold=True, align="center", after=0)
    _para(doc, (f"(Kèm theo Báo cáo số {prose.number.strip()} của {prose.body}; "
                f"số liệu tính đến {fmt_datetime(data.as_of)})"), italic=True, align="center", after=6)
    _appendix_table(doc, data)
    if data.totals["units"] > 1:
        # The per-unit chart on its own portrait page after the table: 103 bars need a full page.
        _page_section(doc, landscape=False)
        _picture(doc, completeness_chart_png(data.figures.units),
                 "Biểu đồ 2. Tỉ lệ hoàn thành bài thu hoạch theo đơn vị")


def _city_recommendations(doc, data: ReportData, prose: ReportProse) -> None:
    """Section IV of the Board's report: by the Board's themes (lĩnh vực), most frequent first."""
    totals = data.themes.totals()
    _heading(doc, "IV. KIẾN NGHỊ, ĐỀ XUẤT CỦA HỌC VIÊN (TỔNG HỢP THEO LĨNH VỰC)")
    if totals["tags"] == 0:
        _para(doc, "Đến thời điểm báo cáo, chưa có kiến nghị, đề xuất nào được tổng hợp từ bài thu hoạch.", indent=True)
        return
    _para(doc, (f"Qua nghiên cứu các bài thu hoạch, {prose.body} đã tổng hợp {vn_int(totals['passages'])} ý kiến "
                f"kiến nghị, đề xuất (các ý kiến trùng lặp được tính một lần; {vn_int(totals['tags'])} đoạn trích) "
                f"từ {vn_int(totals['essays'])} bài thu hoạch của {vn_int(totals['units'])} {data.place_word}, "
                f"tập trung vào các nhóm vấn đề sau (xếp theo số ý kiến, nhiều nhất trước):"), indent=True)
    _recommendations(doc, data)
    _picture(doc, themes_chart_png(data.themes.themes), "Biểu đồ 1. Số ý kiến kiến nghị, đề xuất theo lĩnh vực")


def _ward_recommendations(doc, data: ReportData, prose: ReportProse) -> None:
    """Section IV of a ward's report, in the ward committee's voice: by class topic, each passage once."""
    passages = distinct_passages(data.themes.passages)
    _heading(doc, "IV. KIẾN NGHỊ, ĐỀ XUẤT CỦA HỌC VIÊN (TỔNG HỢP THEO CHỦ ĐỀ)")
    if passages.empty:
        _para(doc, "Đến thời điểm báo cáo, chưa có kiến nghị, đề xuất nào được tổng hợp từ bài thu hoạch.", indent=True)
        return
    _para(doc, (f"Qua nghiên cứu các bài thu hoạch của học viên, {prose.body} đã tổng hợp "
                f"{vn_int(len(passages))} ý kiến kiến nghị, đề xuất (các ý kiến trùng lặp được tính một lần) từ "
                f"{vn_int(passages['essay_id'].nunique())} bài thu hoạch, theo từng chủ đề như sau:"), indent=True)
    for i, (_position, part) in enumerate(passages.groupby("topic_position", sort=True), start=1):
        first = part.iloc[0]
        counts = part["kind"].value_counts()
        parts = [f"{vn_int(counts[k])} {KIND_LABELS[k].lower()}" for k in TAG_KINDS if counts.get(k)]
        _para(doc, f"{i}. {topic_label(int(first['topic_position']), first['topic_title'])} ({', '.join(parts)})",
              bold=True, italic=True, indent=True, keep_next=True)
        for r in part.itertuples(index=False):
            verb = "kiến nghị" if r.kind == "recommendation" else "đề xuất"
            text = _short(" ".join(str(r.text).split()).rstrip(" .;"), 600)
            who = f"Đồng chí {r.trainee} {verb}" if prose.cite_names else verb[0].upper() + verb[1:]
            also = f" ({vn_int(r.repeats)} học viên cùng ý kiến)" if r.repeats > 1 else ""
            _bullet(doc, f"{who}: “{text}”{also}.")


def _participation(doc, data: ReportData) -> None:
    """Section II: attendance where it was taken; never "0 %" for a connection point that took none."""
    f, t = data.figures, data.totals
    if not t["attendance_recorded"]:
        _para(doc, "Điểm danh: chưa ghi nhận điểm danh tại điểm cầu nào.", indent=True)
        return
    base = t["enrolled_recorded"]
    not_taken = t["units"] - t["attendance_recorded"]
    _para(doc, (f"Số học viên có mặt ít nhất một buổi: {vn_int(t['attended'])}/{vn_int(base)} đồng chí "
                f"(đạt {vn_pct(share(t['attended'], base))})"
                + (f"; {vn_int(not_taken)} điểm cầu chưa ghi nhận điểm danh, không tính vào tỉ lệ." if not_taken
                   else ".")), indent=True)
    for d in f.days:
        n = t[day_column(d)]
        _bullet(doc, f"Ngày {fmt_date(d)}: có mặt {vn_int(n)} đồng chí ({vn_pct(share(n, base))}).")
    if t["units"] > 1 and base:
        rates = [(share(int(u["attended"]), int(u["enrolled"])), u["name"]) for u in f.units.to_dict("records")
                 if u["enrolled"] and u["attendance_recorded"]]
        full = [name for rate, name in rates if rate == 100.0]
        low = sorted([(rate, name) for rate, name in rates if rate is not None and rate < 80],
                     key=lambda x: (x[0], vn_sort_key(x[1])))
        if full:
            _bullet(doc, f"{vn_int(len(full))} điểm cầu có 100% học viên tham gia.")
        if low:
            _bullet(doc, f"{vn_int(len(low))} điểm cầu có tỉ lệ tham gia dưới 80%: "
                         + _unit_names([f"{name} ({vn_pct(rate)})" for rate, name in low], 15) + ".")


def _recommendations(doc, data: ReportData) -> None:
    themes = data.themes.themes
    clusters = data.themes.clusters
    order: list[int] = []
    for theme_id in themes["theme_id"]:
        if theme_id not in order:
            order.append(theme_id)
    for i, theme_id in enumerate(order, start=1):
        rows = themes[themes["theme_id"] == theme_id]
        name = rows["theme"].iloc[0]
        counts = {r.kind: r.passages for r in rows.itertuples(index=False)}
        pairs = data.themes.pairs
        unit_count = pairs[pairs["theme_id"] == theme_id]["unit_id"].nunique()
        parts = [f"{vn_int(counts[k])} {KIND_LABELS[k].lower()}" for k in TAG_KINDS if counts.get(k)]
        _para(doc, f"{i}. {name[0].upper() + name[1:]} ({', '.join(parts)}; từ {vn_int(unit_count)} {data.place_word})",
              bold=True, italic=True, indent=True, keep_next=True)
        mine = clusters[clusters["theme_id"] == theme_id]
        mine = mine.sort_values(["units", "tags"], ascending=False, kind="stable")
        for r in mine.head(QUOTES_PER_THEME).itertuples(index=False):
            verb = "kiến nghị" if r.kind == "recommendation" else "đề xuất"
            text = " ".join(str(r.text).split()).rstrip(" .;")
            names = data.themes.cluster_units(theme_id, r.kind, r.cluster)
            # Name the wards when they are few; “103 phường, xã” says enough on its own.
            where = f" ({_unit_names(names)})" if 1 < r.units <= 12 else ""
            _bullet(doc, f"{_who(r.units, names, r.all_wards)} {verb}: “{_short(text, 600)}”{where}.")
        if len(mine) > QUOTES_PER_THEME:
            _para(doc, f"(Và {vn_int(len(mine) - QUOTES_PER_THEME)} ý kiến khác, xem tệp tổng hợp .xlsx kèm theo.)",
                  italic=True, indent=True)


def _picture(doc, png: bytes, caption: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    paragraph = _para(doc, align="center", after=0, keep_next=True)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run().add_picture(io.BytesIO(png), width=Mm(160))
    _para(doc, caption, size=12, italic=True, align="center", after=8)


def _appendix_table(doc, data: ReportData) -> None:
    """The per-unit table, written row by row on lxml copies (python-docx cell access is quadratic)."""
    import copy

    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    f, t = data.figures, data.totals
    header = ["TT", "Đơn vị", "Ghi danh", *[f"Có mặt {d:%d/%m}" for d in f.days], "Có mặt ≥1 buổi",
              *[f"Đã nộp CĐ{topic.position}" for topic in f.topic_list], "Đúng hạn", "Muộn", "Chưa nộp",
              "Tỉ lệ hoàn thành"]
    by_cell = f.topics.set_index(["unit_id", "topic_id"])["submitted"].to_dict() if len(f.topics) else {}
    body = []
    for i, u in enumerate(f.units.to_dict("records"), start=1):
        body.append([str(i), u["name"], vn_int(u["enrolled"]), *[vn_int(u[day_column(d)]) for d in f.days],
                     vn_int(u["attended"]) if u["attendance_recorded"] else "chưa ghi nhận", *[vn_int(by_cell.get((u["unit_id"], tp.id), 0)) for tp in f.topic_list],
                     vn_int(u["on_time"]), vn_int(u["late"]), vn_int(u["missing"] + u["extension"]),
                     vn_pct(u["percent"])])
    topics = data.topic_rows()
    body.append(["", "Tổng cộng", vn_int(t["enrolled"]), *[vn_int(t[day_column(d)]) for d in f.days],
                 vn_int(t["attended"]), *[vn_int(r["submitted"]) for r in topics], vn_int(t["on_time"]),
                 vn_int(t["late"]), vn_int(t["missing"] + t["extension"]), vn_pct(t["percent"])])
    table = doc.add_table(rows=2, cols=len(header))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    usable = 262.0
    name_w = 62.0
    other = (usable - name_w - 10) / (len(header) - 2)
    _widths(table, [10, name_w, *[other] * (len(header) - 2)])
    for cell, text in zip(table.rows[0].cells, header):
        _cell_para(cell, text, size=11, bold=True, align="center", after=0)
    template_cells = table.rows[1].cells
    for j, cell in enumerate(template_cells):
        _cell_para(cell, "x", size=11, align="left" if j == 1 else "center", after=0)
    # Repeat the header row on every page.
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    tr_pr.append(repeat)
    template = table.rows[1]._tr
    tbl = table._tbl
    tbl.remove(template)
    for k, values in enumerate(body):
        tr = copy.deepcopy(template)
        for tc, value in zip(tr.iter(qn("w:tc")), values):
            text_el = next(tc.iter(qn("w:t")))
            text_el.text = xml_text(value)
        if k == len(body) - 1:
            for r_pr in tr.iter(qn("w:rPr")):
                # <w:b> goes right after <w:rFonts>: Word validates the order of run properties.
                fonts = r_pr.find(qn("w:rFonts"))
                bold = OxmlElement("w:b")
                if fonts is not None:
                    fonts.addnext(bold)
                else:
                    r_pr.insert(0, bold)
        tbl.append(tr)
