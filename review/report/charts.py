"""The report's charts as PNG (matplotlib, Agg backend)."""
from __future__ import annotations

import io

import pandas as pd

from lms.text import vn_sort_key
from review.report.formatting import vn_int, vn_pct
from review.tagging.models import TAG_KINDS

# Charts list every unit up to this many; above it a distribution is clearer than 3,000 bars.
CHART_MAX_UNITS = 120


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # DejaVu Sans ships with matplotlib and has every Vietnamese glyph.
    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 8, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=200, bbox_inches="tight")
    _pyplot().close(fig)
    return out.getvalue()


def completeness_chart_png(units: pd.DataFrame) -> bytes:
    """Completeness per unit as horizontal bars (highest first); a distribution above CHART_MAX_UNITS units."""
    plt = _pyplot()
    values = [0.0 if p is None or pd.isna(p) else float(p) for p in units["percent"]]
    if len(units) > CHART_MAX_UNITS:
        bands = [0] * 11
        for v in values:
            bands[min(int(v // 10), 10)] += 1
        labels = [f"{10 * i}–{10 * i + 10}%" if i < 10 else "100%" for i in range(11)]
        labels[9] = "90–<100%"
        fig, ax = plt.subplots(figsize=(6.3, 3.2))
        ax.bar(range(11), bands, color="#2b5d8a")
        ax.set_xticks(range(11), labels, rotation=45, ha="right")
        ax.set_ylabel("Số đơn vị")
        for i, n in enumerate(bands):
            if n:
                ax.text(i, n, vn_int(n), ha="center", va="bottom", fontsize=7)
        ax.set_title("Số đơn vị theo tỉ lệ hoàn thành bài thu hoạch")
        return _png(fig)
    order = sorted(range(len(units)), key=lambda i: (-values[i], vn_sort_key(units["name"].iloc[i])))
    names = [units["name"].iloc[i] for i in order][::-1]
    vals = [values[i] for i in order][::-1]
    n = max(len(names), 1)
    small = n > 40
    fig, ax = plt.subplots(figsize=(6.3, min(9.0, 0.8 + n * (0.085 if small else 0.22))))
    colours = ["#b3261e" if v < 80 else "#2b5d8a" for v in vals]
    ax.barh(range(len(vals)), vals, color=colours, height=0.75)
    ax.set_yticks(range(len(names)), names, fontsize=4.6 if small else 7.5)
    ax.set_xlim(0, 112)
    ax.set_xlabel("Tỉ lệ hoàn thành (%)")
    ax.axvline(80, color="#a86400", linestyle="--", linewidth=0.7)
    ax.margins(y=0.005)
    if not small:
        for i, v in enumerate(vals):
            ax.text(v + 1, i, vn_pct(v), va="center", fontsize=6.5)
    ax.set_title("Tỉ lệ hoàn thành bài thu hoạch theo đơn vị (đỏ: dưới 80%)")
    return _png(fig)


def themes_chart_png(themes: pd.DataFrame, limit: int = 15) -> bytes:
    """Passages per theme (most first), kiến nghị and đề xuất stacked."""
    plt = _pyplot()
    if themes.empty:
        per = pd.DataFrame(columns=["theme", "recommendation", "proposal"])
    else:
        per = themes.pivot_table(index="theme", columns="kind", values="passages", aggfunc="sum", fill_value=0)
        for kind in TAG_KINDS:
            if kind not in per.columns:
                per[kind] = 0
        per = per.assign(_total=per["recommendation"] + per["proposal"]).sort_values("_total", ascending=False)
        per = per.head(limit).iloc[::-1].reset_index()
    n = max(len(per), 1)
    fig, ax = plt.subplots(figsize=(6.3, 0.9 + 0.3 * n))
    rec = [int(v) for v in per.get("recommendation", [])]
    pro = [int(v) for v in per.get("proposal", [])]
    y = range(len(per))
    ax.barh(y, rec, color="#2b5d8a", label="Kiến nghị", height=0.7)
    ax.barh(y, pro, left=rec, color="#d08c2c", label="Đề xuất", height=0.7)
    ax.set_yticks(list(y), [_short(t, 45) for t in per.get("theme", [])])
    for i, (a, b) in enumerate(zip(rec, pro)):
        ax.text(a + b, i, f" {vn_int(a + b)}", va="center", fontsize=7)
    ax.set_xlabel("Số ý kiến (nhóm trùng lặp tính một lần)")
    ax.set_title("Kiến nghị, đề xuất theo lĩnh vực")
    if len(per):
        ax.legend(loc="lower right", frameon=False)
    else:
        ax.text(0.5, 0.5, "Chưa có kiến nghị, đề xuất nào được gắn thẻ", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_yticks([])
    return _png(fig)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"

