"""Full-text ranking from per-word scores (knowledge/lexical.py): the sum per translation,
best first, ties to the lower id, and a bounded cache of the words' scores."""

from __future__ import annotations

import numpy as np

from frontdesk.knowledge import lexical


def scores(pairs: dict[int, float]) -> lexical.Scores:
    ids = np.array(sorted(pairs), dtype=np.int64)
    return ids, np.array([pairs[i] for i in ids], dtype=np.float64)


class TestRank:
    def test_sums_each_translations_scores_over_the_words(self):
        first = scores({1: 1.0, 2: 3.0, 5: 0.5})
        second = scores({1: 2.5, 5: 4.0, 7: 0.1})
        # 1: 3.5, 2: 3.0, 5: 4.5, 7: 0.1
        assert lexical.rank([first, second], 10) == [5, 1, 2, 7]

    def test_ties_go_to_the_lower_id_also_at_the_cut(self):
        part = scores({9: 2.0, 4: 1.0, 3: 1.0, 8: 1.0, 1: 0.5})
        assert lexical.rank([part], 3) == [9, 3, 4]
        assert lexical.rank([part], 5) == [9, 3, 4, 8, 1]

    def test_keeps_the_best_of_many_like_a_full_sort(self):
        rng = np.random.default_rng(3)
        ids = np.sort(rng.choice(100_000, size=5_000, replace=False)).astype(np.int64)
        parts = [(ids, np.round(rng.random(5_000), 2)) for _ in range(3)]
        total: dict[int, float] = {}
        for part_ids, part_scores in parts:
            for i, s in zip(part_ids.tolist(), part_scores.tolist(), strict=True):
                total[i] = total.get(i, 0.0) + s
        expected = sorted(total, key=lambda i: (-total[i], i))[:200]
        assert lexical.rank(parts, 200) == expected

    def test_no_words_or_no_matches_rank_nothing(self):
        assert lexical.rank([], 10) == []
        assert lexical.rank([scores({})], 10) == []


class TestTermScores:
    def test_drops_the_least_recently_used_words_past_its_budget(self):
        cache = lexical.TermScores(budget=5)
        cache.put("a", scores({1: 1.0, 2: 1.0}))
        cache.put("b", scores({3: 1.0, 4: 1.0}))
        assert cache.get("a") is not None  # "b" is now the least recently used
        cache.put("c", scores({5: 1.0, 6: 1.0}))
        assert cache.get("b") is None
        assert cache.get("a") is not None and cache.get("c") is not None
        assert cache.size == 4

    def test_keeps_a_word_larger_than_the_budget_while_it_is_the_newest(self):
        cache = lexical.TermScores(budget=2)
        cache.put("a", scores({1: 1.0}))
        cache.put("common", scores({1: 1.0, 2: 1.0, 3: 1.0}))
        assert cache.get("a") is None
        assert cache.get("common") is not None


class TestCommonestWords:
    def test_lists_the_words_held_by_a_share_of_the_entries_commonest_first(self):
        from frontdesk.knowledge.completion import Completer, completion

        texts = ["parcel label", "parcel late", "parcel label lost", "refund"]
        completer = Completer(
            [completion("question", n, "en", text, text) for n, text in enumerate(texts)]
        )
        assert completer.commonest(share=0.5, most=10) == ["parcel", "label"]
        assert completer.commonest(share=0.5, most=1) == ["parcel"]
        assert completer.commonest(share=0.0, most=2) == ["parcel", "label"]
