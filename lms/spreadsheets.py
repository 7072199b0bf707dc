"""Spreadsheet cells that cannot run: the one helper every .xlsx/.csv export goes through."""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# OWASP "CSV injection": a cell starting with one of these is a formula to Excel/LibreOffice.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value with a leading apostrophe when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An .xlsx with one sheet per (title, header, rows); every cell goes through safe_cell."""
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.append([safe_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [len(str(h)) for h in header]
        for row in rows:
            values = [safe_cell(v) for v in row]
            sheet.append(values)
            for i, v in enumerate(values[:len(widths)]):
                widths[i] = max(widths[i], min(len(str(v)) if v is not None else 0, 60))
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width + 2
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads Vietnamese), every cell through safe_cell."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- a streaming .xlsx writer for exports of hundreds of thousands of rows ------------------------
#
# openpyxl, even write-only, builds a cell object and an lxml element per value (~15–20 µs): the
# country report's 1.7 M cells took 30 s. These sheets hold only text, numbers, booleans and empty
# cells with two styles (bold header, wrapped text), so the XML is written as text: the same parts,
# styles and inline strings openpyxl writes, read back by openpyxl, Excel and LibreOffice alike.
# The well-kept fast writers were measured first on the same 1.7 M cells (170,000 rows × 10, load
# 9.5–13): XlsxWriter 3.3.1 in constant_memory mode 30.1 s, PyExcelerate 0.13.0 19.0 s, this writer
# 8.8–9.8 s — neither library meets the report's 10 s target, hence this one.

class StreamSheet(NamedTuple):
    """One sheet of `xlsx_stream_bytes`: bold frozen header, rows, columns to wrap, the widest column."""

    title: str
    header: Sequence[Any]
    rows: Sequence[Sequence[Any]]
    wrap: Sequence[int] = ()
    max_width: int = 60


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Characters XML 1.0 cannot carry (openpyxl refuses the whole workbook over one): dropped. The three
# markup characters escaped in the same pass, and a carriage return kept as one (as lxml writes it).
_TEXT_TABLE = {**{c: None for c in (*range(0, 9), 11, 12, *range(14, 32))},
               ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
_NEEDS_TABLE = re.compile(r"[\x00-\x08\x0b-\x1f&<>]")
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))
_BOLD, _WRAP = 1, 2  # cellXfs indexes in _STYLES
_STYLES = (f'<styleSheet xmlns="{_NS}">'
           '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
           '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
           '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
           '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
           '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
           '<alignment vertical="top" wrapText="1"/></xf></cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
           '</styleSheet>')


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def _cell_xml(ref: str, value: Any, style: int) -> str:
    """One <c> element as openpyxl writes it ('' for an empty, unstyled cell)."""
    s = f' s="{style}"' if style else ""
    if value is None:
        return f'<c r="{ref}"{s}/>' if style else ""
    kind = type(value)
    if kind is str:
        if not value:
            return f'<c r="{ref}"{s} t="inlineStr"/>'
        text = value[:32767]
        if text in _ERROR_CODES:
            return f'<c r="{ref}"{s} t="e"><v>{text}</v></c>'
        if _NEEDS_TABLE.search(text):
            text = text.translate(_TEXT_TABLE)
        space = ' xml:space="preserve"' if text.strip() != text else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'
    if kind is bool:
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if kind is int or kind is float or isinstance(value, (int, float)):
        if value != value or value in (math.inf, -math.inf):
            return f'<c r="{ref}"{s}/>' if style else ""
        return f'<c r="{ref}"{s} t="n"><v>{"%.16g" % value}</v></c>'
    if hasattr(value, "item"):  # numpy scalars
        return _cell_xml(ref, value.item(), style)
    raise TypeError(f"xlsx_stream_bytes: cannot write {kind.__name__} values (format them first)")


def _widths(sheet: StreamSheet, header: list[Any]) -> list[int]:
    """Column widths as `xlsx_bytes` fits them: the longest text (up to max_width), the header's at least."""
    widths = [len(str(h)) for h in header]
    limit, rows = sheet.max_width, sheet.rows
    if rows and all(len(row) == len(header) for row in rows):
        # Column by column: max(map(len, …)) runs in C while a column holds text only.
        for i, column in enumerate(zip(*rows)):
            try:
                longest = max(map(len, column))
            except TypeError:  # numbers or empty cells
                longest = max((len(v) if type(v) is str else len(str(v)) for v in column if v is not None), default=0)
            widths[i] = max(widths[i], min(longest, limit))
        return widths
    for row in rows:
        for i, value in enumerate(row[:len(widths)]):
            if value is not None:
                widths[i] = max(widths[i], min(len(value) if type(value) is str else len(str(value)), limit))
    return widths


# Text that needs nothing done: no formula start, no markup or control character, no surrounding
# space, not an error code (#…), not over 32,767 characters. Anything else takes `_cell_xml`.
_PLAIN_TEXT = re.compile(r"[^\x00-\x20&<>=+\-@#\s](?:[^\x00-\x08\x0b-\x1f&<>]{0,32765}[^\x00-\x20&<>\s])?")


def _sheet_xml(sheet: StreamSheet) -> Iterator[str]:
    """The worksheet part, in pieces of a thousand rows."""
    header = [safe_cell(h) for h in sheet.header]
    widths = _widths(sheet, header)
    n_columns = max([len(header), *(len(row) for row in sheet.rows)])
    letters = [get_column_letter(i) for i in range(1, max(n_columns, 1) + 1)]
    cols = "".join(f'<col min="{i}" max="{i}" width="{w + 2}" customWidth="1"/>' for i, w in enumerate(widths, 1))
    yield (f'{_XML_HEAD}<worksheet xmlns="{_NS}"><dimension ref="A1:{letters[-1]}{len(sheet.rows) + 1}"/>'
           '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
           'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
           f'<sheetFormatPr defaultRowHeight="15"/>{"<cols>" + cols + "</cols>" if cols else ""}<sheetData>'
           '<row r="1">' + "".join(_cell_xml(f"{letters[i]}1", h, _BOLD) for i, h in enumerate(header)) + "</row>")
    wrap = set(sheet.wrap)
    styles = [_WRAP if i in wrap else 0 for i in range(len(letters))]
    # Per column: the start of a cell's reference and its style attribute.
    heads = [(f'<c r="{letter}', f'" s="{styles[i]}"' if styles[i] else '"') for i, letter in enumerate(letters)]
    plain, starts = _PLAIN_TEXT.fullmatch, _FORMULA_STARTS
    parts: list[str] = []
    for number, row in enumerate(sheet.rows, start=2):
        n = str(number)
        cells = []
        for i, value in enumerate(row):
            kind = type(value)
            if kind is str and plain(value):
                ref, style = heads[i]
                cells.append(f'{ref}{n}{style} t="inlineStr"><is><t>{value}</t></is></c>')
            elif kind is int and -10**15 < value < 10**15:  # "%.16g" writes these as str() does
                ref, style = heads[i]
                cells.append(f'{ref}{n}{style} t="n"><v>{value}</v></c>')
            elif value is None and not styles[i]:
                continue
            else:
                if kind is str and value and value[0] in starts:
                    value = "'" + value
                cell = _cell_xml(f"{letters[i]}{n}", value, styles[i])
                if cell:
                    cells.append(cell)
        parts.append(f'<row r="{n}">{"".join(cells)}</row>')
        if len(parts) == 1000:
            yield "".join(parts)
            parts = []
    yield "".join(parts) + ('</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
                            'footer="0.5"/></worksheet>')


def xlsx_stream_bytes(sheets: Sequence[StreamSheet]) -> bytes:
    """An .xlsx of plain-value sheets written as XML text, every cell through the safe_cell rule.

    Values: str, int, float, bool, None (numpy scalars as their Python value); text XML cannot carry
    is dropped, text over Excel's 32,767 characters cut, as openpyxl does.
    """
    titles = [s.title[:31] for s in sheets]
    count = len(sheets)
    content_types = (f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                     'officedocument.spreadsheetml.sheet.main+xml"/>'
                     + "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
                               'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                               for n in range(1, count + 1))
                     + '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
                     'officedocument.spreadsheetml.styles+xml"/>'
                     '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
                     'package.core-properties+xml"/></Types>')
    root_rels = (f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
                 f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
                 '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
                 'metadata/core-properties" Target="docProps/core.xml"/></Relationships>')
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    core = (f'{_XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created></cp:coreProperties>')
    workbook = (f'{_XML_HEAD}<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><workbookPr/>'
                '<bookViews><workbookView activeTab="0"/></bookViews><sheets>'
                + "".join(f'<sheet name="{_attr(t)}" sheetId="{n}" r:id="rId{n}"/>' for n, t in enumerate(titles, 1))
                + '</sheets><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')
    workbook_rels = (f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
                     + "".join(f'<Relationship Id="rId{n}" Type="{_REL_NS}/worksheet" '
                               f'Target="worksheets/sheet{n}.xml"/>' for n in range(1, count + 1))
                     + f'<Relationship Id="rId{count + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
                     '</Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("docProps/core.xml", core)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        archive.writestr("xl/styles.xml", _XML_HEAD + _STYLES)
        for n, sheet in enumerate(sheets, start=1):
            with archive.open(f"xl/worksheets/sheet{n}.xml", "w") as part:
                for piece in _sheet_xml(sheet):
                    part.write(piece.encode("utf-8"))
    return out.getvalue()
