"""Units (connection points): the official ward list shipped with the project, and other units."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from lms.db import db
from lms.models import Unit
from lms.text import fold

WARDS_FILE = Path(__file__).parent / "data" / "vn_wards_2025.csv"
OTHER_KIND = "khác"

# Abbreviations offices type before a unit name: "P. Ninh Kiều", "X.Cờ Đỏ", "TT Phong Điền".
_PREFIXES = re.compile(r"^(phuong|xa|dac khu|thi tran|p\.?|x\.?|tt\.?|dk\.?)\s*(?=\S)")


class UnitError(ValueError):
    """A unit request that cannot be done; the message is for the user."""


@dataclass(frozen=True)
class WardRow:
    province_code: str
    province_name: str
    code: str
    name: str
    kind: str


def match_name(name: str) -> str:
    """Folded name without its "Phường"/"Xã"/"P."/"X." prefix, for matching what offices type."""
    folded = fold(name).replace("–", "-")
    return _PREFIXES.sub("", folded, count=1).strip()


def official_wards(province_code: str) -> list[WardRow]:
    """The official wards of one province, from the data file shipped in the project."""
    wanted = str(int(province_code)) if province_code.strip().isdigit() else province_code.strip()
    rows = []
    with WARDS_FILE.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["province_code"] == wanted:
                rows.append(WardRow(
                    province_code=row["province_code"].zfill(2),
                    province_name=row["province_name"],
                    code=row["ward_code"].zfill(5),
                    name=row["ward_name"],
                    kind=row["ward_type"],
                ))
    return rows


def load_province(province_code: str) -> tuple[int, int]:
    """Create or update the units of one province; returns (created, updated)."""
    wards = official_wards(province_code)
    if not wards:
        raise UnitError(f"Không có tỉnh/thành phố mã {province_code} trong danh mục.")
    existing = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.code.in_([w.code for w in wards])))}
    created = updated = 0
    for ward in wards:
        unit = existing.get(ward.code)
        if unit is None:
            unit = Unit(code=ward.code)
            db.session.add(unit)
            created += 1
        elif (unit.name, unit.kind) != (ward.name, ward.kind):
            updated += 1
        unit.name, unit.kind = ward.name, ward.kind
        unit.province_code, unit.province_name = ward.province_code, ward.province_name
        unit.match_name = match_name(ward.name)
    db.session.flush()
    return created, updated


def add_unit(code: str, name: str) -> Unit:
    """Add a unit that is not a ward (the Political School, a city agency)."""
    code, name = code.strip(), " ".join(name.split())
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,20}", code):
        raise UnitError("Mã đơn vị chỉ gồm chữ không dấu, chữ số, dấu chấm, gạch ngang (tối đa 20 ký tự).")
    if not name:
        raise UnitError("Vui lòng nhập tên đơn vị.")
    if db.session.scalar(select(Unit).where(Unit.code == code)):
        raise UnitError(f"Mã đơn vị {code} đã có.")
    unit = Unit(code=code, name=name, kind=OTHER_KIND, match_name=match_name(name))
    db.session.add(unit)
    db.session.flush()
    return unit


class UnitResolver:
    """Finds a unit from what an office typed: its code, or its name with or without diacritics."""

    def __init__(self) -> None:
        units = db.session.scalars(select(Unit)).all()
        self.by_code = {u.code: u for u in units}
        self.by_name: dict[str, list[Unit]] = {}
        for u in units:
            self.by_name.setdefault(u.match_name, []).append(u)
            self.by_name.setdefault(fold(u.name), []).append(u)

    def resolve(self, text: str) -> Unit | None:
        """The one unit meant, or None when unknown or ambiguous."""
        text = " ".join(str(text).split())
        if not text:
            return None
        if text in self.by_code:
            return self.by_code[text]
        if text.isdigit() and text.zfill(5) in self.by_code:
            return self.by_code[text.zfill(5)]
        for key in (fold(text), match_name(text)):
            found = {u.id: u for u in self.by_name.get(key, [])}
            if len(found) == 1:
                return next(iter(found.values()))
        return None
