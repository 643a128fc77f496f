"""Sentiment of short survey comments in English, Polish and Greek, from small lexicons.

Pure and deterministic; no model, no download, no dependency. ``sentiment(text,
language)`` returns a score in -1..1 and the language it read the text as.

How: the text is case-folded and stripped of accents and diacritics
(``ά`` → ``α``, ``ę`` → ``e``, ``ł`` → ``l``), so ``Λύθηκε`` and ``ΛΥΘΗΚΕ``,
``dziękuję`` and ``dziekuje`` read the same. Each word is looked up in the
language's positive and negative lists (an entry ending in ``*`` is a stem
matching any word it starts). A negator (``not``, ``nie``, ``δεν``, ``μην``,
``nobody``, ``nikt``, ``κανείς``, ``without``, ...) flips the sentiment words in
the next four words of its clause; negators do not cancel each other, because
Polish and Greek negate twice for emphasis (``nikt nie potrafił``).
Score: ``(positive - negative) / (positive + negative + 1)``, so one word
gives ±0.5 and more agreeing words approach ±1.

Language: the survey's ``language`` when it is ``en``, ``pl`` or ``el``; else
detected: Greek script → ``el``; Polish diacritics → ``pl``; else whichever
lexicon (with common function words) matches more words, English on a tie.

Limits, honestly: a word list knows only its words (about 60 per language,
chosen for customer-service comments such as the simulator's); unknown words
count as neutral, so most long or unusual comments land near 0. No sarcasm,
no intensifiers ("very" does not weigh more), no idioms ("never again" reads
as a negated "again", i.e. positive). Inflected Polish and Greek forms match
only through the stems listed. Other languages are read with the detected
lexicon and mostly score 0. Treat the score as a weak signal, weighted as such
in the rules.
"""

# ruff: noqa: RUF001, RUF002 - the Greek lexicon and examples are Greek letters on purpose

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal, get_args

Language = Literal["en", "pl", "el"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
NEGATION_SCOPE: Final = 4
"""How many words after a negator it flips (within its clause)."""

_TOKEN = re.compile(r"\w+|[.,;:!?]")
_CLAUSE_END = frozenset(".,;:!?")
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u017f]")
_POLISH = re.compile(r"[ąćęłńśźż]", re.IGNORECASE)
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "l"})  # no Unicode decomposition for ł


@dataclass(frozen=True)
class Lexicon:
    """Word lists of one language, normalised (see :func:`normalise`); ``*`` marks a stem."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]
    negators: tuple[str, ...]
    markers: tuple[str, ...]
    """Common function words: evidence for the language, no sentiment."""

    def polarity(self, word: str) -> int:
        """+1, -1 or 0 for one normalised word."""
        if _matches(word, self.positive):
            return 1
        return -1 if _matches(word, self.negative) else 0

    def evidence(self, word: str) -> bool:
        """Whether ``word`` is one of this language's listed words."""
        lists = (self.positive, self.negative, self.negators, self.markers)
        return any(_matches(word, entries) for entries in lists)


def _matches(word: str, entries: tuple[str, ...]) -> bool:
    return any(
        word.startswith(entry[:-1]) if entry.endswith("*") else word == entry for entry in entries
    )


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


LEXICONS: Final[dict[Language, Lexicon]] = {
    "en": Lexicon(
        positive=_words(
            "good great excellent fast* quick* friendly help helped helpful helping easy easily "
            "thank* solved resolved fixed perfect* love* nice polite* smooth* recommend* happy "
            "satisf* pleasant efficient* kind professional* wonderful amazing best brilliant "
            "awesome fantastic simple immediately"
        ),
        negative=_words(
            "bad slow* wait* long longer rude* fail* error* broken broke frustrat* annoy* "
            "terrible awful horribl* worst useless disappoint* unhelpful complain* angry "
            "transferr* crash* declin* lost delay* poor* difficult* hard confus* unresolv* "
            "again cancel* refus* ridiculous waste* dissatisf* unhappy nightmare unacceptable "
            "stuck ignor* hold"
        ),
        negators=_words("not no never nobody nothing without none neither nor cannot"),
        markers=_words("the and a an is was my me it to of for with too very you i far still"),
    ),
    "pl": Lexicon(
        positive=_words(
            "dzieki dziek* szybk* sprawn* milo mila mily mile milej dobr* swietn* super polec* "
            "zadowol* pomocn* pomog* pomoc* rozwiaz* uprzejm* profesjonaln* latw* idealn* "
            "doskonal* bezproblemow* dziala*"
        ),
        negative=_words(
            "czeka* dlug* powol* wolno frustruj* zly zle zla zlo fatal* okropn* beznadziej* "
            "niemil* nieuprzejm* blad* bled* awari* reklamac* rozczarow* znowu ponownie "
            "przelacz* przekier* nieudan* odrzuc* anulow* niepomocn* problemy skandal*"
        ),
        negators=_words("nie nikt nigdy bez zaden zadna zadne zadnej nic ani"),
        markers=_words("jest byl byla sie bardzo za od mi mnie na w z to ze do ale juz tak i"),
    ),
    "el": Lexicon(
        positive=_words(
            "γρηγορ* ευγεν* εξυπηρετικ* ευχαριστ* τελει* εξαιρετ* καλο καλη καλα καλοσ καλοι "
            "λυθηκε λυση λυσαν επιλυθ* αμεσ* βοηθ* ευκολ* φιλικ* ικανοποιημεν* αψογ* "
            "επαγγελματι* σωστ*"
        ),
        negative=_words(
            "περιμεν* αναμον* αργ* απετυχ* αποτυχ* απογοητ* κακ* χαλια χαλασ* λαθ* αγεν* "
            "εκνευρ* απαραδεκτ* ξανα ακυρ* καθυστερ* ατελειωτ* μεταφερθ* προβληματικ*"
        ),
        negators=_words("δεν μην μη ουτε κανεισ κανενασ χωρισ ποτε τιποτα"),
        markers=_words("και το η ο τα με μου να για απο πολυ σε στο στην"),
    ),
}


@dataclass(frozen=True)
class Sentiment:
    """A comment's sentiment: ``score`` in -1..1, the language read, and the words counted."""

    score: float
    language: Language
    positive: int
    negative: int


def normalise(text: str) -> str:
    """Case-folded, without accents or diacritics (final sigma becomes σ)."""
    folded = unicodedata.normalize("NFD", text.translate(_UNDECOMPOSED).casefold())
    return "".join(char for char in folded if unicodedata.category(char) != "Mn")


def detect_language(text: str) -> Language:
    """``el`` for mostly Greek script, ``pl`` for Polish diacritics, else by listed words."""
    greek = len(_GREEK.findall(text))
    if greek and greek >= len(_LATIN.findall(text)):
        return "el"
    if _POLISH.search(text):
        return "pl"
    words = [token for token in _TOKEN.findall(normalise(text)) if token not in _CLAUSE_END]
    english = sum(LEXICONS["en"].evidence(word) for word in words)
    polish = sum(LEXICONS["pl"].evidence(word) for word in words)
    return "pl" if polish > english else "en"


def sentiment(text: str, language: str | None = None) -> Sentiment:
    """The sentiment of ``text``, read in ``language`` when supported, else the detected one."""
    chosen: Language = _supported(language) or detect_language(text)
    lexicon = LEXICONS[chosen]
    positive = negative = 0
    negated_for = 0
    for token in _TOKEN.findall(normalise(text.replace("n't", " not").replace("n’t", " not"))):
        if token in _CLAUSE_END:
            negated_for = 0
        elif _matches(token, lexicon.negators):
            negated_for = NEGATION_SCOPE
        else:
            polarity = lexicon.polarity(token) * (-1 if negated_for else 1)
            positive += polarity > 0
            negative += polarity < 0
            negated_for = max(negated_for - 1, 0)
    score = (positive - negative) / (positive + negative + 1)
    return Sentiment(round(score, 3), chosen, positive, negative)


def _supported(language: str | None) -> Language | None:
    for candidate in LANGUAGES:
        if candidate == language:
            return candidate
    return None
