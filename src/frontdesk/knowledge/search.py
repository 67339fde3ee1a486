"""Finding answers: hybrid search (full text + vectors fused by reciprocal rank), the bot's
answer decision (intent match against example questions and titles, with an out-of-scope
threshold) and autocomplete. Reads only; the index comes from knowledge.index."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit.text import light_stem, search_tokens
from frontdesk.knowledge import index as knowledge_index
from frontdesk.knowledge import intents, lexical, repository
from frontdesk.knowledge.embedding import DEFAULT_EMBEDDER, Embedder
from frontdesk.knowledge.markdown import plain_text
from frontdesk.knowledge.schemas import (
    Answer,
    AnswerResult,
    Candidate,
    SearchHit,
    Suggestion,
)

# Reciprocal rank fusion constant (Cormack et al. 2009): rank r contributes 1 / (K + r).
RRF_K = 60
# How many hits each retriever contributes before fusion.
DEPTH = 50
# Full-text matches ranked before the status filter (a common word matches thousands of rows;
# only the best are looked up for their article's status).
FTS_DEPTH = 200
MAX_QUERY_TOKENS = 32
# The bot answers only at or above this intent score (see _intent_scores); below it, "I don't
# know" (hand-off). Tuned per embedder with bench/intent.py on CLINC150's validation split
# (docs/knowledge.md); scores are rescaled from each embedder's floor, so they are close.
THRESHOLDS = {"hashing-v1": 0.32, "e5-small-q4-v1": 0.56}
ANSWER_THRESHOLD = THRESHOLDS["hashing-v1"]
SNIPPET_WORDS = 30
# Words of a body looked at for the snippet's anchor; past them the opening is shown.
SNIPPET_SCAN = 200
# Search and autocomplete trust the index's stamp this long after reading it (one database
# round trip less per query; another process's write shows up to this late, this process's at
# once). The bot's answer decision always reads the stamp.
FRESHNESS_SECONDS = 1.0
# The words held by at least WARM_SHARE of the titles and questions (at most WARM_WORDS, the
# commonest first, until WARM_POSTINGS rows are scored) are scored by the first search of a new
# index, before a query needs them: a common word costs the database 2-18 ms to score, and
# without this every search that held one after a write paid it (bench/kb_search.py's p99).
# Their rows are then a tenth of a second of the first search (10,000 articles).
WARM_SHARE = 0.01
WARM_WORDS = 64
WARM_POSTINGS = 250_000
# Below this similarity a vector neighbour is noise (words sharing a few letters), not a hit.
VECTOR_FLOOR = 0.25


def default_threshold(embedder: Embedder = DEFAULT_EMBEDDER) -> float:
    """The answer threshold tuned for `embedder` (the hashing one's for an unknown embedder)."""
    return THRESHOLDS.get(embedder.name, ANSWER_THRESHOLD)


async def answer_threshold(session: AsyncSession, embedder: Embedder = DEFAULT_EMBEDDER) -> float:
    """The threshold `answer` applies by default now: the trained head's (its learned
    out-of-scope threshold is always intents.DECISION on the confidence scale), else the
    embedder's nearest-question threshold."""
    idx = await knowledge_index.current(session, embedder)
    return intents.DECISION if idx.head is not None else default_threshold(embedder)


def same_language(a: str, b: str) -> bool:
    """fa and fa-IR are one language for choosing a translation."""
    return a.split("-")[0] == b.split("-")[0]


def _pick_language(available: Iterable[str], wanted: str | None, fallback: str) -> str:
    languages = list(available)
    if wanted:
        if wanted in languages:
            return wanted
        for language in languages:
            if same_language(language, wanted):
                return language
    return fallback


async def search(
    session: AsyncSession,
    q: str,
    *,
    language: str | None,
    statuses: Sequence[str],
    limit: int,
    embedder: Embedder = DEFAULT_EMBEDDER,
) -> list[SearchHit]:
    """Articles for `q`, best first, each in the asker's language when it exists there."""
    tokens = search_tokens(q)[:MAX_QUERY_TOKENS]
    if not tokens:
        return []
    idx = await knowledge_index.current(session, embedder, max_age=FRESHNESS_SECONDS)
    # The query's forward pass (a model's: in a thread) runs while the full text is ranked.
    embedding = asyncio.ensure_future(idx.embed_query(q))
    try:
        text_hits = await full_text(session, idx, tokens, statuses=statuses, limit=DEPTH)
    except BaseException:
        embedding.cancel()
        raise
    query = await embedding
    scores: dict[int, float] = {}
    matched: dict[int, str] = {}
    for rank, hit in enumerate(_first_per_article((h.article_id, h.language) for h in text_hits)):
        scores[hit[0]] = scores.get(hit[0], 0.0) + 1.0 / (RRF_K + rank + 1)
        matched.setdefault(hit[0], hit[1])
    for rank, hit in enumerate(_nearest(idx, query, statuses, DEPTH)):
        scores[hit[0]] = scores.get(hit[0], 0.0) + 1.0 / (RRF_K + rank + 1)
        matched.setdefault(hit[0], hit[1])
    best = sorted(scores, key=lambda a: (-scores[a], a))[:limit]
    texts = await repository.hit_texts(session, best)
    hits = []
    for article_id in best:
        by_language = {t.language: t for t in texts.get(article_id, [])}
        if not by_language:
            continue  # deleted since the index was read
        chosen = by_language[
            _pick_language(by_language, language, matched.get(article_id, next(iter(by_language))))
        ]
        hits.append(
            SearchHit(
                article_id=article_id,
                language=chosen.language,
                title=chosen.title,
                snippet=snippet(plain_text(chosen.html), tokens),
                score=round(scores[article_id], 6),
            )
        )
    return hits


async def full_text(
    session: AsyncSession,
    idx: knowledge_index.KnowledgeIndex,
    tokens: Sequence[str],
    *,
    statuses: Sequence[str],
    limit: int,
) -> list[lexical.TextHit]:
    """Translations holding any of `tokens` (search keys), best first by the full-text
    engine's score (whole words: prefixes are autocomplete's business, typos the vectors').
    Each word is scored by the database once per version of the index (knowledge.lexical)."""
    if not idx.words.warmed:
        await _warm(session, idx)
    words = dict.fromkeys(light_stem(token) for token in tokens)  # as the text was indexed
    parts = [await _word_scores(session, idx, word) for word in words]
    return idx.text_hits(lexical.rank(parts, FTS_DEPTH), statuses=statuses, limit=limit)


async def _word_scores(
    session: AsyncSession, idx: knowledge_index.KnowledgeIndex, word: str
) -> lexical.Scores:
    scores = idx.words.get(word)
    if scores is None:
        scores = await repository.fts_word_scores(session, word)
        idx.words.put(word, scores)
    return scores


async def _warm(session: AsyncSession, idx: knowledge_index.KnowledgeIndex) -> None:
    idx.words.warmed = True  # a search meanwhile scores its own words
    scored = 0
    common = idx.completer.commonest(share=WARM_SHARE, most=WARM_WORDS)
    for word in dict.fromkeys(light_stem(word) for word in common):
        scored += len((await _word_scores(session, idx, word))[0])
        if scored >= WARM_POSTINGS:
            break


def _first_per_article(hits: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    seen: dict[int, str] = {}
    for article_id, language in hits:
        seen.setdefault(article_id, language)
    return list(seen.items())


def _nearest(
    idx: knowledge_index.KnowledgeIndex, query: np.ndarray, statuses: Sequence[str], depth: int
) -> list[tuple[int, str]]:
    """(article id, language) of the entries most similar to `query`, one per article."""
    sims = idx.similarities(query)
    if sims.size == 0:
        return []
    top = _top(sims, depth * 8)  # most similar first
    top = top[sims[top] >= VECTOR_FLOOR]
    top = top[np.isin(idx.entry_statuses[top], list(statuses))]
    # The most similar entry of each article, in the order of similarity.
    _, first = np.unique(idx.entry_articles[top], return_index=True)
    chosen = top[np.sort(first)][:depth]
    return [(int(idx.entry_articles[p]), idx.entries[int(p)].language) for p in chosen]


def _top(sims: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` largest values, largest first (a partial sort: O(len))."""
    if sims.size > n:
        part = np.sort(np.argpartition(-sims, n)[:n])  # ties: the lower position first
        return part[np.argsort(-sims[part], kind="stable")]
    return np.argsort(-sims, kind="stable")


@functools.lru_cache(maxsize=65536)
def _word_tokens(word: str) -> tuple[str, ...]:
    """`search_tokens` of one word of a body, remembered: the snippet folds up to
    SNIPPET_SCAN words of every hit, and the words of a knowledge base repeat (a third of a
    search's CPU went to folding them again, bench/kb_search.py)."""
    return tuple(search_tokens(word))


def snippet(text: str, tokens: list[str], words: int = SNIPPET_WORDS) -> str:
    """About `words` words of `text` around the first word that matches a query token (or
    its light stem, as the full text matched it)."""
    parts = text.split()
    wanted = set(tokens)
    stems = {light_stem(token) for token in tokens}
    start = 0
    for position, word in enumerate(parts[:SNIPPET_SCAN]):
        keys = _word_tokens(word)
        if any(
            key in wanted or key.startswith(tokens[-1]) or light_stem(key) in stems for key in keys
        ):
            start = max(0, position - words // 3)
            break
    chosen = parts[start : start + words]
    return ("… " if start else "") + " ".join(chosen) + (" …" if start + words < len(parts) else "")


async def answer(
    session: AsyncSession,
    text: str,
    *,
    language: str | None,
    threshold: float | None = None,
    embedder: Embedder = DEFAULT_EMBEDDER,
    candidates: int = 3,
) -> AnswerResult:
    """The bot's decision for a customer's message: the published article the trained
    intent head scores highest (knowledge.intents), or without a current head the one whose
    example questions (or title) are nearest, if confident enough (`threshold`, default:
    the head's learned one, else the embedder's); else no answer, with the candidates."""
    idx = await knowledge_index.current(session, embedder)
    if threshold is None:
        threshold = intents.DECISION if idx.head is not None else default_threshold(embedder)
    query = await idx.embed_query(text)
    rejected = False
    if idx.head is not None:
        best, rejected = _head_scores(idx, idx.head, query, text, candidates)
    else:
        best = _intent_scores(idx, query, candidates)
    ranked = [
        Candidate(
            article_id=article_id,
            language=(chosen := _pick_language(idx.languages[article_id], language, matched)),
            title=idx.titles.get((article_id, chosen), ""),
            confidence=round(max(score, 0.0), 4),
        )
        for article_id, (score, matched) in best.items()
    ]
    top = ranked[0] if ranked else None
    chosen_answer = (
        Answer(article_id=top.article_id, language=top.language, confidence=top.confidence)
        if top is not None and top.confidence >= threshold and not rejected
        else None
    )
    return AnswerResult(answer=chosen_answer, candidates=ranked)


def _intent_scores(
    idx: knowledge_index.KnowledgeIndex, query: np.ndarray, candidates: int
) -> dict[int, tuple[float, str]]:
    """Published articles by intent score, best first (ties: the lower id): the mean of the
    similarity to the article's nearest entry (example question or title) and to its
    centroid. Both measured better together than either alone (bench/intent.py)."""
    scores, sims = idx.article_scores(query)
    return {
        int(idx.published_articles[row]): (
            float(scores[row]),
            idx.nearest_language(sims, int(idx.published_articles[row])),
        )
        for row in _top(scores, candidates)
    }


def _head_scores(
    idx: knowledge_index.KnowledgeIndex,
    head: intents.IntentHead,
    query: np.ndarray,
    text: str,
    candidates: int,
) -> tuple[dict[int, tuple[float, str]], bool]:
    """Articles by the head's combined score (intents.combine: its probability with the
    nearest-question score), best first, as confidences; each with the language of its
    nearest entry (the language the question matched). Only the head's and the nearest
    entries' best few articles are ranked (the others' probabilities are near zero and their
    neighbours far); every score is computed in a few array operations, no loop per entry.
    And whether the question is refused: its "none of these" score (questions no article
    answers) beats the best article's (intents.refused)."""
    outputs = head.outputs(query, [text])[0]
    probabilities = outputs[: len(head.articles)]
    scores, sims = idx.article_scores(query)
    nearest = scores[idx.head_rows]  # the nearest-question score of each of the head's outputs
    shortlist = np.zeros(len(head.articles), dtype=bool)
    shortlist[_top(probabilities, SHORTLIST)] = True
    near_outputs = idx.head_output[_top(scores, SHORTLIST)]
    shortlist[near_outputs[near_outputs >= 0]] = True
    combined = intents.combine(probabilities, nearest)
    shortlisted = np.flatnonzero(shortlist)
    # Best first; ties go to the lower article id (the outputs are in ascending id order).
    ranked = shortlisted[np.argsort(-combined[shortlisted], kind="stable")][:candidates]
    rejected = False
    if head.rejects and len(idx.rejects) and len(ranked):
        score = intents.reject_scores(outputs[-1:], query[None, :], idx.rejects, idx.embedder.floor)
        top = np.array([combined[ranked[0]]], dtype=intents.DTYPE)
        rejected = bool(intents.refused(top, score)[0] == 0.0)
    return {
        int(head.articles[o]): (
            head.confidence(float(combined[o])),
            idx.nearest_language(sims, int(head.articles[o])),
        )
        for o in ranked
    }, rejected


# Articles scored in full per answer with a head (see _head_scores).
SHORTLIST = 10


async def autocomplete(
    session: AsyncSession,
    q: str,
    *,
    language: str | None,
    limit: int = 8,
    embedder: Embedder = DEFAULT_EMBEDDER,
) -> list[Suggestion]:
    """Published questions and titles holding every word typed so far (the last one as a
    prefix), in the asker's language first, shortest first (knowledge/completion.py)."""
    if not search_tokens(q):
        return []  # nothing to complete: no database read either
    # Within FRESHNESS_SECONDS of the last stamp read no SQL at all: a keystroke is answered
    # from memory (bench/kb_search.py).
    idx = await knowledge_index.current(session, embedder, max_age=FRESHNESS_SECONDS)
    return [
        Suggestion(
            kind="article" if item.kind == "article" else "question",
            text=item.text,
            article_id=item.article_id,
            language=item.language,
        )
        for item in idx.completer.complete(
            " ".join(search_tokens(q)[:MAX_QUERY_TOKENS]), preferred=language, limit=limit
        )
    ]
