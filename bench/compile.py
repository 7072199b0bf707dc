"""The Board's compilation at a city's scale: suggest, theme, group, find copies.

    .venv/bin/python bench/compile.py [--essays 15000] [--seed 15]

Builds synthetic essays (an opening paragraph, a "KIẾN NGHỊ, ĐỀ XUẤT" section of three passages
written from the labelled theme vocabulary of tests/review/theme_passages.py, a closing line;
2 % are copies of another essay, half identical, half with a few words changed) and times,
without the database or the web:

1. suggesting passages (the rule detector) and ranking themes for all of them (a model trained
   on 20 confirmed tags per theme);
2. grouping all passages (MinHash LSH), then adding 1,000 more incrementally;
3. finding copied essays (MinHash LSH on 3-syllable shingles, confirmed at ≥ 90 % the same text);
4. reviewer actions per accepted passage in the queue: Enter when the first theme is right, a
   digit and Enter when it is among the nine offered, else the theme list (counted as 3).
"""
from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from review.tagging.learning import ThemeModel  # noqa: E402
from review.tagging.similar import PassageGroups, copy_index  # noqa: E402
from review.tagging.suggestions import find_passages  # noqa: E402
from tests.review.theme_passages import THEMES, labelled_passages  # noqa: E402

OPENINGS = [
    "Qua lớp bồi dưỡng, em nhận thức rõ hơn về vai trò của chính quyền cơ sở trong giai đoạn mới.",
    "Sau khi nghiên cứu các chủ đề của lớp học, bản thân em rút ra nhiều bài học kinh nghiệm quý báu.",
    "Thực tiễn công tác tại địa phương cho thấy còn nhiều việc phải làm để phục vụ nhân dân tốt hơn.",
]
FILLER = ("Địa phương đã triển khai nhiều giải pháp, đạt được kết quả bước đầu, tuy nhiên vẫn còn những "
          "khó khăn, hạn chế cần tiếp tục khắc phục trong thời gian tới. ")


def make_essays(n: int, rng: random.Random) -> tuple[list[str], dict[int, int]]:
    """n essay texts and {copy index: original index}."""
    passages = [text for text, _ in labelled_passages(per_theme=max(40, n // 3), seed=rng.randrange(10**6))]
    rng.shuffle(passages)
    # Body sentences: the same vocabulary, told as facts, so essays differ as real ones do.
    facts = [re.sub(r"(?i)kiến nghị|đề xuất|đề nghị|kien nghi|de xuat|de nghi", "đã bàn việc", t)
             for t, _ in labelled_passages(per_theme=300, seed=rng.randrange(10**6))]
    texts, copies = [], {}
    for i in range(n):
        if i > 10 and rng.random() < 0.02:
            original = rng.randrange(i)
            text = texts[original]
            if i % 2:
                words = text.split(" ")
                for _ in range(max(1, len(words) // 40)):
                    words[rng.randrange(len(words))] = rng.choice(["rất", "đã", "cũng", "nhiều"])
                text = " ".join(words)
            texts.append(text)
            copies[i] = original
            continue
        items = "\n".join(f"{k + 1}. {passages[(3 * i + k) % len(passages)]}" for k in range(3))
        body = " ".join([rng.choice(OPENINGS), FILLER] + rng.sample(facts, rng.randint(12, 30)))
        texts.append(f"{body}\nIII. KIẾN NGHỊ, ĐỀ XUẤT\n{items}\nKết luận\nEm xin chân thành cảm ơn.")
    return texts, copies


def timed(label: str, fn):
    start = time.perf_counter()
    value = fn()
    print(f"{label}: {time.perf_counter() - start:.1f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--essays", type=int, default=15_000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts, copies = make_essays(args.essays, rng)
    print(f"{len(texts):,} essays, {len(copies):,} of them copies")

    found = timed("suggest passages (rule detector, all essays)", lambda: [find_passages(t) for t in texts])
    passages = [(i, t[p.start:p.end]) for i, t in enumerate(texts) for p in found[i] if i not in copies]
    print(f"  {len(passages):,} passages suggested")

    names = list(THEMES)
    training = labelled_passages(per_theme=20, seed=args.seed + 1)
    model = timed("train the theme model (20 tags per theme, 10 themes)",
                  lambda: ThemeModel([(t, [names.index(n)]) for t, n in training], dict(enumerate(names))))
    ranked = timed("rank themes for every passage", lambda: model.rank([t for _, t in passages], top=9))

    many = labelled_passages(per_theme=4_500, seed=args.seed + 3)
    timed(f"retrain the theme model on {len(many):,} tags (what the worker does after a tag changes)",
          lambda: ThemeModel([(t, [names.index(n)]) for t, n in many], dict(enumerate(names))))
    held_out = labelled_passages(per_theme=60, seed=args.seed + 2)
    truth = [names.index(n) for _, n in held_out]
    held_ranks = model.rank([t for t, _ in held_out], top=9)
    presses = []
    for scores, right in zip(held_ranks, truth):
        order = [s.theme_id for s in scores]
        presses.append(1 if order[0] == right else 2 if right in order else 3)
    first_right = [p for p in presses if p == 1]
    print(f"queue: first theme right for {len(first_right) / len(presses):.1%} of {len(presses)} held-out passages; "
          f"key presses per accepted passage {sum(presses) / len(presses):.2f} (1 when right, "
          f"{sum(p for p in presses if p > 1) / max(1, len(presses) - len(first_right)):.2f} when not)")
    del ranked

    groups = PassageGroups()
    head, tail = passages[:-1000], passages[-1000:]
    timed(f"group {len(head):,} passages (MinHash LSH, leader clustering)",
          lambda: groups.add_many(((i, k), t) for k, (i, t) in enumerate(head)))
    timed("add 1,000 more passages incrementally",
          lambda: groups.add_many(((i, k + len(head)), t) for k, (i, t) in enumerate(tail)))
    found_groups = groups.groups()
    print(f"  {len(found_groups):,} groups, largest {len(found_groups[0]) if found_groups else 0}")

    copy_links = copy_index(texts.__getitem__)
    timed("find copied essays (MinHash LSH on 3-syllable shingles + >= 90 % check)",
          lambda: copy_links.add_many(enumerate(texts)))
    caught = sum(1 for c, o in copies.items() if o in copy_links.similar_to(c))
    flagged = sum(len(g) for g in copy_links.groups())
    print(f"  planted copies caught: {caught}/{len(copies)}; essays flagged: {flagged:,} "
          f"(planted copies and their originals: {len(set(copies) | set(copies.values())):,})")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
