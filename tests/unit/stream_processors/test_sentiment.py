# ruff: noqa: RUF001 - Greek test sentences are Greek letters on purpose

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.simulator.catalogue import COMMENTS
from stream_processors.scoring.sentiment import LEXICONS, detect_language, normalise, sentiment

CATALOGUE = [(language, good, comment) for (language, good), comments in COMMENTS.items() for comment in comments]  # fmt: skip


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


@pytest.mark.parametrize(("language", "good", "comment"), CATALOGUE)
def test_every_catalogue_comment_gets_its_sign_and_language(language: str, good: bool, comment: str) -> None:  # fmt: skip
    detected = sentiment(comment)
    assert detected.language == language
    assert (detected.score > 0) if good else (detected.score < 0)
    assert sentiment(comment, language) == detected  # the survey's language agrees


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("The staff were helpful.", "The staff were not helpful."),
        ("The agent was helpful.", "The agent wasn't helpful."),
        ("Waiting, as usual.", "No waiting at all."),
        ("Obsługa była pomocna.", "Obsługa nie była pomocna."),
        ("Czekałem długo.", "Nie czekałem długo."),
        ("Το προσωπικό ήταν εξυπηρετικό.", "Το προσωπικό δεν ήταν εξυπηρετικό."),
        ("Περίμενα.", "Μην περιμένετε."),
    ],
)  # fmt: skip
def test_negation_flips_the_sign(plain: str, negated: str) -> None:
    before, after = sentiment(plain), sentiment(negated)
    assert before.score * after.score < 0
    assert before.language == after.language


def test_negation_ends_with_its_clause() -> None:
    assert sentiment("Nothing to add. Great service!").score > 0
    assert sentiment("Nie mam uwag, szybko i sprawnie.").score > 0


def test_double_negation_in_polish_and_greek_still_negates() -> None:
    assert sentiment("Nikt nie pomógł.").score < 0
    assert sentiment("Κανείς δεν βοήθησε.").score < 0


@pytest.mark.parametrize(("language", "good", "comment"), [c for c in CATALOGUE if c[0] == "el"])
def test_greek_accents_and_case_do_not_matter(language: str, good: bool, comment: str) -> None:
    expected = sentiment(comment)
    for variant in (strip_accents(comment), comment.upper(), strip_accents(comment).lower()):
        assert sentiment(variant) == expected


def test_polish_without_diacritics_reads_the_same() -> None:
    for language, _, comment in CATALOGUE:
        if language == "pl":
            assert sentiment(strip_accents(comment).replace("ł", "l")) == sentiment(comment)


def test_a_supported_survey_language_is_used_and_others_are_detected() -> None:
    assert sentiment("Great help", "pl").language == "pl"
    assert sentiment("Great help", "de").language == "en"
    assert sentiment("Szybko i sprawnie", None).language == "pl"
    assert detect_language("Πολύ καλά, thanks") == "el"
    assert detect_language("") == "en"


def test_text_without_known_words_is_neutral() -> None:
    assert sentiment("The parcel arrived on Tuesday.").score == 0.0
    assert sentiment("").score == 0.0


@given(st.text(max_size=300), st.sampled_from([None, "en", "pl", "el", "de"]))
def test_any_text_scores_strictly_within_minus_one_and_one(text: str, language: str | None) -> None:  # fmt: skip
    result = sentiment(text, language)
    assert -1 < result.score < 1
    assert result == sentiment(text, language)


def test_the_lexicons_are_written_normalised() -> None:
    for lexicon in LEXICONS.values():
        for words in (lexicon.positive, lexicon.negative, lexicon.negators, lexicon.markers):
            assert all(normalise(word) == word for word in words)
