"""Themes learned from confirmed tags: precision of the top theme on a labelled set built here."""
from __future__ import annotations

from review.tagging.learning import ThemeModel, features
from tests.review.theme_passages import THEMES, labelled_passages

PER_THEME = 40  # 10 themes x 40 = 400 passages; the last 20 of each theme are never trained on


def _precision(by_theme: dict[str, list[str]], tags_per_theme: int) -> float:
    names = list(THEMES)
    examples = [(text, [i]) for i, name in enumerate(names) for text in by_theme[name][:tags_per_theme]]
    model = ThemeModel(examples, {i: name for i, name in enumerate(names)})
    held_out = [(text, i) for i, name in enumerate(names) for text in by_theme[name][PER_THEME - 20:]]
    ranked = model.rank([text for text, _ in held_out])
    return sum(scores[0].theme_id == truth for scores, (_, truth) in zip(ranked, held_out)) / len(held_out)


def test_top_theme_precision_after_5_and_20_tags_per_theme(capsys):
    passages = labelled_passages(per_theme=PER_THEME)
    assert len(passages) >= 300 and len(THEMES) >= 8
    assert len({text for text, _ in passages}) > 0.9 * len(passages)  # varied wording
    by_theme: dict[str, list[str]] = {}
    for text, name in passages:
        by_theme.setdefault(name, []).append(text)
    names_only, after_5, after_20 = (_precision(by_theme, n) for n in (0, 5, 20))
    with capsys.disabled():
        print(f"\ntheme suggestion precision (top theme, {len(THEMES)} themes, {20 * len(THEMES)} held-out passages): "
              f"names only {names_only:.3f}, after 5 tags per theme {after_5:.3f}, after 20 {after_20:.3f}")
    assert after_20 >= 0.8
    assert after_5 > names_only


def test_scores_rank_best_first_and_unmarked_text_reads_the_same():
    model = ThemeModel([("Đề nghị nâng cấp trạm y tế phường", [1]), ("Kiến nghị nạo vét kênh rạch ô nhiễm", [2])],
                       {1: "Y tế", 2: "Môi trường", 3: "Giáo dục"})
    marked, bare = model.rank(["nâng cấp trạm y tế", "nang cap tram y te"])
    assert [s.theme_id for s in marked] == [s.theme_id for s in bare]
    assert marked[0].theme_id == 1 and marked[0].score >= marked[1].score >= marked[2].score
    assert features("Trạm y tế") == ["tram", "y", "te", "tram y", "y te"]


def test_one_theme_only_is_offered_without_training():
    assert ThemeModel([], {7: "Y tế"}).rank(["bất kỳ"])[0][0].theme_id == 7
    assert ThemeModel([], {}).rank(["bất kỳ"]) == [[]]
