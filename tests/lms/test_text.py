"""Vietnamese name order: the string key sorts exactly as the tuple key it stands in for."""
from __future__ import annotations

import itertools
import random

from lms.text import vn_name_key, vn_name_sort_string

NAMES = ["Nguyễn Văn An", "Nguyễn Văn Ân", "Nguyễn Văn Ấn", "Nguyễn Văn Ản", "Nguyễn Văn Anh", "Nguyễn An",
         "Trần Thị Ánh", "Trần Thị Ạnh", "Trần Thị Anh", "Lê Đức", "Lê Dũng", "Lê Du", "Đào", "Dao", "An",
         "Nguyễn  Văn   An", "nguyễn văn an", "Phạm Ơn", "Phạm Ôn", "Phạm On", "Hà Ư", "Hà U", "Hà Ừ",
         "Võ Thị Bé Ba", "Võ Thị Bé", "Võ Bé Ba", "Mai A1", "Mai A10", "Mai A2", "Jean-Luc Ngô", "Ngô Jean",
         "Kpă Y", "H' Hen Niê", "Ông 𝔄", "Ông 𝔅", "Ông \U0010fff0", "Ông Z", "Ông z", "Ông ý", "Ông ỳ"]


def test_string_key_orders_names_as_the_tuple_key():
    rng = random.Random(4)
    people = [(name, f"u{i}") for i, name in enumerate(NAMES)]
    people += [(name, f"x{rng.randrange(5)}") for name in rng.choices(NAMES, k=200)]
    by_tuple = sorted(people, key=lambda p: vn_name_key(p[0]) + ((p[1],),))
    by_string = sorted(people, key=lambda p: f"{vn_name_sort_string(p[0])}\x00{p[1]}")
    assert by_string == by_tuple
    for a, b in itertools.permutations(NAMES, 2):
        assert (vn_name_key(a) < vn_name_key(b)) == (vn_name_sort_string(a) < vn_name_sort_string(b)), (a, b)
