# ruff: noqa: RUF001  (Arabic and Persian text)
"""The shipped classifier: loads offline from the package, is deterministic, folds Arabic and
Persian spelling variants the way search does, and labels plain cases in all three languages."""

from __future__ import annotations

import zipfile

import pytest

from frontdesk.sentiment import model
from frontdesk.sentiment.model import WEIGHTS, Classifier, analyse, features
from frontdesk.sentiment.training import f1_report, split, train

NEGATIVE = [
    "This is terrible, my order never arrived and nobody answers. I am very angry.",
    "الخدمة سيئة جدا، لم يصل طلبي وأنا غاضب",
    "خیلی بد بود، غذا سرد رسید و پشتیبانی جواب نداد",
]
POSITIVE = [
    "Thank you so much, excellent service, I love it!",
    "شكرا جزيلا، خدمة ممتازة ورائعة",
    "عالی بود، خیلی ممنون از پیک خوش برخورد",
]


class TestShippedWeights:
    def test_the_file_is_small_compressed_and_complete(self):
        assert WEIGHTS.stat().st_size < 5_000_000
        with zipfile.ZipFile(WEIGHTS) as archive:
            assert archive.testzip() is None
            assert sorted(archive.namelist()) == ["bias.npy", "weights.npy"]

    def test_the_licences_of_the_training_sets_ship_beside_them(self):
        notice = (WEIGHTS.parent / "NOTICE.md").read_text(encoding="utf-8")
        for needle in ("ArSarcasm-v2", "AJGT", "SnappFood", "SentiPers", "CC0", "CC BY 4.0"):
            assert needle in notice

    @pytest.mark.parametrize("text", NEGATIVE)
    def test_clear_complaints_are_negative(self, text):
        result = analyse(text)
        assert result is not None and result.label == "negative", (text, result)
        assert result.score < 0

    @pytest.mark.parametrize("text", POSITIVE)
    def test_clear_thanks_are_positive(self, text):
        result = analyse(text)
        assert result is not None and result.label == "positive", (text, result)
        assert result.score > 0

    def test_text_without_words_is_not_judged(self):
        assert analyse("") is None
        assert analyse("  ?! ") is None

    def test_scores_are_probability_differences(self):
        result = analyse(NEGATIVE[0])
        assert result is not None
        negative, _, positive = result.probabilities
        assert abs(sum(result.probabilities) - 1) < 1e-5
        assert result.score == pytest.approx(positive - negative, abs=1e-4)


class TestFeatures:
    def test_arabic_and_persian_letter_variants_fold_to_the_same_features(self):
        # Persian ye and keheh against Arabic ya and kaf; a zero-width non-joiner; tatweel.
        persian, arabic = "می\u200cخواهم کیک", "ميخواهم كيك"
        assert features(persian)[0].tolist() == features(arabic)[0].tolist()
        assert features("جمـــيل")[0].tolist() == features("جميل")[0].tolist()

    def test_hashing_is_stable_across_processes(self):
        # crc32, not Python's per-process salted hash: trained weights stay meaningful.
        indices, values = features("ok")
        assert indices.tolist() == sorted(indices.tolist())
        assert abs(float(values @ values) - 1) < 1e-5
        assert features("ok")[0].tolist() == indices.tolist()


TINY = [
    ("awful slow rude", "negative"),
    ("broken and late", "negative"),
    ("بد و خراب", "negative"),
    ("great fast kind", "positive"),
    ("lovely and quick", "positive"),
    ("عالی و سریع", "positive"),
    ("the parcel is at the depot", "neutral"),
    ("my order number is below", "neutral"),
]


class TestTraining:
    def test_a_tiny_model_learns_its_training_set(self, tmp_path):
        rows = TINY
        classifier = train(rows, epochs=30, seed=1)
        predicted = [classifier.analyse(text).label for text, _ in rows]  # type: ignore[union-attr]
        assert f1_report([label for _, label in rows], predicted)["macro"] > 0.9
        path = tmp_path / "tiny.npz"
        classifier.save(path)
        again = Classifier.load(path)
        assert again.analyse(rows[0][0]).label == classifier.analyse(rows[0][0]).label  # type: ignore[union-attr]

    def test_split_is_stratified_and_disjoint(self):
        rows = [(f"text {i}", "negative" if i % 3 else "positive") for i in range(300)]
        held_in, held_out = split(rows, test_share=0.2, seed=5)
        assert len(held_out) == 60 and not set(held_in) & set(held_out)
        assert sum(label == "positive" for _, label in held_out) == 20

    def test_f1_report(self):
        truth = ["negative", "negative", "positive", "neutral"]
        predicted = ["negative", "positive", "positive", "neutral"]
        report = f1_report(truth, predicted)
        assert report["negative"] == pytest.approx(2 / 3)
        assert report["positive"] == pytest.approx(2 / 3)
        assert report["neutral"] == 1.0
        assert report["macro"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_the_model_is_loaded_once():
    assert model.shipped() is model.shipped()
