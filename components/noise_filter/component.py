"""NoiseFilter: clean what people really type before the tokenizer sees it.

"wheres my ordr A1001??" -> "where is my order A1001?", "donâ€™t" -> "do not", "um can u cancel
it" -> "can you cancel it", "📦 late again 😡" -> "late again" (+ the emoji kept as a cue).

Why a MESSAGE_FEATURIZER that is not a `Tokenizer`/`Featurizer` subclass: in Rasa 3.6's default
recipe only tokenizer and featurizer components get a `process_training_data` node, so only they
clean the training data the same way as live messages; Rasa's validator counts tokenizers by
class (`issubclass(..., Tokenizer)`), so a component *registered* as a featurizer but
subclassing plain `GraphComponent` runs in both graphs without tripping the one-tokenizer rule.
It is trainable: `train` learns the bot's own vocabulary and protected values from the training
data (domain words win over the English dictionary) and persists them as JSON.

Message data: `text` is the cleaned text (what the tokenizer, DIET and entity spans see);
`noise_filter` (in parse_data) holds the original text, the corrections, the emoji, and the
`alignment` that maps cleaned offsets back to the original (see `restore_original_offsets`).
"""
import functools
import json
import logging
import os
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.noise_filter.augmentation import noisy_messages
from components.noise_filter.alignment import Edit, RewrittenText, to_original_span
from components.shared.contracts import NOISE_FILTER, noise_filter_of, noise_filter_record
from components.shared.pipeline_order import must_precede

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "noise_filter_vocabulary.json"

_ENGLISH_DICTIONARY = "frequency_dictionary_en_82_765.txt"
_ASCII_WORD = re.compile(r"(?<![\w'’])[A-Za-z]+(?:['’][A-Za-z]+)*(?![\w'’])")
_CHUNK = re.compile(r"\S+")
_CONTROL = re.compile(
    r"\x1b\[[0-9;]*[A-Za-z]"  # ANSI colour codes
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200e\u200f\u202a-\u202e"
    r"\u2060-\u2064\ufeff\ufffd]+"
)
_REPEATED_PUNCTUATION = re.compile(r"([!?])[!?]+|\.{4,}|,{2,}")
_WHITESPACE = re.compile(r"\s+")
_ELONGATED = re.compile(r"([a-z])\1{2,}")
_DIGIT = re.compile(r"\d")
_MAX_CANDIDATES = 5

DEFAULT_FILLERS = ("um", "umm", "uh", "uhh", "uhm", "erm", "er", "hmm", "mm")
# Chat shorthand that the `contractions` package lacks or gets wrong for a shop assistant.
DEFAULT_SHORTHAND = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "ty": "thank you",
    "im": "i am",
    "ive": "i have",
    "pkg": "package",
    "addr": "address",
    "ya": "you",
    "cuz": "because",
    "coz": "because",
}


@functools.lru_cache(maxsize=1)
def english_word_counts() -> Dict[Text, int]:
    """All 82k words of symspellpy's English frequency list, most frequent first."""
    import symspellpy

    path = os.path.join(os.path.dirname(symspellpy.__file__), _ENGLISH_DICTIONARY)
    counts: Dict[Text, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            word, count = line.split()
            counts[word] = int(count)
    return counts


@functools.lru_cache(maxsize=4)
def english_dictionary(size: int, max_edit_distance: int) -> Tuple[Any, Dict[Text, int]]:
    """symspellpy's bundled English unigrams: a SymSpell index of the `size` most frequent
    words (suggestions) and the counts of all 82k words (what counts as "known").

    Cached per process: the train, process-training-data and inference nodes share one copy.
    Indexing all 82k words at edit distance 2 takes ~13 s and ~130 MB here; the 30k most
    frequent take ~2.7 s and ~60 MB and give the same corrections for common typos.
    """
    import symspellpy

    counts = english_word_counts()
    index = symspellpy.SymSpell(max_dictionary_edit_distance=max_edit_distance, prefix_length=7)
    for rank, (word, count) in enumerate(counts.items()):
        if rank >= size:
            break
        index.create_dictionary_entry(word, count)
    return index, counts


@functools.lru_cache(maxsize=1)
def _contractions_table() -> Dict[Text, Text]:
    """Contractions with apostrophes, plus apostrophe-less slang that is not a common English
    word ("dont", "wheres" yes; "well", "shell", "its" no)."""
    import contractions

    common = set(list(english_word_counts())[:20000])
    table = {key.lower(): value.lower() for key, value in contractions.contractions_dict.items()}
    for key, value in contractions.slang_dict.items():
        key = key.strip().lower()
        if "'" in key or "’" in key or key not in common or key.endswith("nt"):
            table.setdefault(key, value.lower())
    return {key.replace("’", "'"): value for key, value in table.items() if key}


@functools.lru_cache(maxsize=1)
def _spacy_tokenizer() -> Any:
    import spacy

    return spacy.blank("en").tokenizer


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True
)
class NoiseFilter(GraphComponent):
    """Cleans what people really type, in training data and live messages, before tokenization.

    `wheres my ordr A1001??` becomes `where is my order A1001?`, `donâ€™t` becomes `do not`,
    `um can u cancel it pls` becomes `can you cancel it please`, and the emoji of
    `📦 late again 😡` are taken out of the text and kept as a cue. Intent classifiers and entity
    extractors trained on clean examples then read live messages the way they were trained. It
    never rewrites what must stay as typed: URLs, emails, numbers and amounts, any word with a
    digit (order ids), matches of the training data's `regex:` patterns, entity values, synonyms
    and `lookup:` entries. Training learns the bot's own vocabulary, which wins over the English
    dictionary (`klarma` becomes `klarna`, not `karma`). Put it first in the pipeline, before
    the tokenizer; `parse_data["noise_filter"]` records what the user typed and every change.

    **Settings**

    Steps, in the order they run (whitespace is always normalised):

    - `max_characters` (default `2000`): longer messages are cut here (listed as a `truncated`
      correction); everything after the filter, DIET included, reads at most this much.
    - `unicode` (default `true`): repairs mojibake per word with ftfy (`donâ€™t` -> `don't`),
      NFKC (full-width letters, ligatures) and curly quotes.
    - `emoji` (default `true`): removes emoji from the text and lists them in
      `noise_filter.emoji`.
    - `control_characters` (default `true`): removes control, zero-width and bidi characters,
      BOMs, ANSI colour codes and U+FFFD.
    - `elongation` (default `true`): `!!!!` -> `!`, `.....` -> `...`, `sooo` -> `so`,
      `goood` -> `good` (the most frequent known spelling).
    - `fillers` (default `true`): drops `um`, `uh`, `erm`, `hmm`... and a comma right after them.
    - `shorthand` (default `true`): contractions and chat shorthand, `dont` -> `do not`,
      `wheres` -> `where is`, `u` -> `you`, `pls` -> `please`.
    - `spelling` (default `true`): symspellpy, the bot's vocabulary first, then English; also
      splits merged words (`cancelthe` -> `cancel the`).

    Spelling correction:

    - `dictionary_size` (default `30000`): most frequent English words offered as corrections
      (all 82k count as known words); 30k load in about 3 s and 60 MB, all 82k in about 13 s.
    - `max_edit_distance` (default `2`): edits allowed for words of 5+ letters; shorter words
      get 1.
    - `min_word_length` (default `3`): shorter words are never corrected.
    - `min_vocabulary_count` (default `2`): a training-data word is a domain word when it occurs
      this often (a one-off typo is not); entity values, synonyms and lookups always are.
    - `max_chars_for_spelling` (default `5000`): longer messages get every step but spelling
      (only matters when `max_characters` is raised above it).

    Extra vocabulary:

    - `protected_words` (default `[]`): words never changed.
    - `extra_fillers` (default `[]`): more filler words to drop.
    - `extra_shorthand` (default `{}`): more shorthand, e.g. `{"ordr": "order"}`.

    Augmentation of the training data (noisy copies, cleaned like live messages, so the
    classifiers learn the filter's leftover errors):

    - `augmentation_copies` (default `0`): noisy copies added per intent example (0 = off).
    - `augmentation_level` (default `0.2`): fraction of the words of a copy that get noise.
    - `augmentation_seed` (default `42`): seed of the noise: the same data gives the same copies.

    **Configuration**

    ```yaml
    pipeline:
      - name: components.noise_filter.NoiseFilter   # before the tokenizer
        augmentation_copies: 1                      # optional: one noisy copy per example
      - name: WhitespaceTokenizer
      # ... featurizers, DIETClassifier, EntitySynonymMapper ...
      - name: components.noise_filter.NoiseFilterRestorer   # after every entity extractor
    ```
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # steps, in the order they run
            # Everything after the filter reads at most this many characters: DIET and the
            # ResponseSelector attend over every token, and a 1 MB message would need tens of GB.
            "max_characters": 2000,
            "unicode": True,
            "emoji": True,
            "control_characters": True,
            "elongation": True,
            "shorthand": True,
            "fillers": True,
            "spelling": True,
            # spelling correction
            "dictionary_size": 30000,
            "max_edit_distance": 2,
            "min_word_length": 3,
            "min_vocabulary_count": 2,
            "max_chars_for_spelling": 5000,
            # extra vocabulary
            "protected_words": [],
            "extra_fillers": [],
            "extra_shorthand": {},
            # augmentation of the training data (noisy copies, cleaned like live messages)
            "augmentation_copies": 0,
            "augmentation_level": 0.2,
            "augmentation_seed": 42,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["symspellpy", "ftfy", "emoji", "contractions", "spacy"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        learned: Optional[Dict[Text, Any]] = None,
        finetuning: bool = False,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        # `rasa train --finetune`: what the previous model learned is kept and added to.
        self._finetuning = finetuning
        self._model_storage = model_storage
        self._resource = resource
        self._learned = learned or {
            "vocabulary": {},
            "protected_words": [],
            "protected_phrases": [],
            "regex_patterns": [],
            "bigrams": {},
        }
        self._prepare()

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "NoiseFilter":
        cls.check_position(execution_context)
        return cls(config, model_storage, resource)

    @classmethod
    def check_position(cls, execution_context: ExecutionContext) -> None:
        """The tokenizer must read the cleaned text, so the NoiseFilter comes first."""
        must_precede(
            execution_context, cls, Tokenizer,
            "The tokenizer would split the noisy text and the cleaned text would be ignored.",
        )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "NoiseFilter":
        cls.check_position(execution_context)
        learned = None
        try:
            with model_storage.read_from(resource) as directory:
                learned = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.warning(
                f"NoiseFilter found no learned vocabulary in resource '{resource.name}'; "
                "it will use the English dictionary only."
            )
        return cls(config, model_storage, resource, learned, execution_context.is_finetuning)

    def _prepare(self) -> None:
        """Build everything the per-message path needs once: tables, indexes, regexes."""
        config = self._config
        self._english, self._english_counts = english_dictionary(
            int(config["dictionary_size"]), int(config["max_edit_distance"])
        )
        self._vocabulary: Dict[Text, int] = {
            word: count
            for word, count in self._learned["vocabulary"].items()
            if count >= int(config["min_vocabulary_count"])
        }
        self._protected_words: Set[Text] = {
            w.lower() for w in list(self._learned["protected_words"]) + config["protected_words"]
        }
        # Protected values are domain words too, however rare: "rapportbx" -> "rapportbox".
        for word in self._protected_words:
            self._vocabulary.setdefault(word, int(config["min_vocabulary_count"]))
        self._domain_index = self._build_domain_index(self._vocabulary)
        self._protected_phrases = _phrase_pattern(self._learned["protected_phrases"])
        self._regexes = _compile_patterns(self._learned["regex_patterns"])
        self._fillers = set(DEFAULT_FILLERS) | {f.lower() for f in config["extra_fillers"]}
        self._shorthand = {
            **_contractions_table(),
            **DEFAULT_SHORTHAND,
            **{k.lower(): v for k, v in config["extra_shorthand"].items()},
        }
        # Older models saved no bigrams: the spelling step then ignores context.
        self._bigrams: Dict[Text, int] = dict(self._learned.get("bigrams") or {})
        self._correct = functools.lru_cache(maxsize=8192)(self._correct_uncached)
        _spacy_tokenizer()  # at load, not on the first message: importing spaCy takes ~1 s

    def _build_domain_index(self, vocabulary: Dict[Text, int]) -> Any:
        import symspellpy

        index = symspellpy.SymSpell(
            max_dictionary_edit_distance=int(self._config["max_edit_distance"]), prefix_length=7
        )
        for word, count in vocabulary.items():
            if len(word) >= int(self._config["min_word_length"]):
                index.create_dictionary_entry(word, count)
        return index

    # ------------------------------------------------------------------ training
    def train(self, training_data: TrainingData) -> Resource:
        """Learn the bot's vocabulary and the values that must never be rewritten."""
        vocabulary: Dict[Text, int] = {}
        bigrams: Dict[Text, int] = {}
        protected_words: Set[Text] = set()
        protected_phrases: Set[Text] = set()

        def protect(value: Any) -> None:
            if not isinstance(value, str) or not value.strip():
                return
            value = value.strip().lower()
            (protected_phrases if " " in value else protected_words).add(value)

        for example in training_data.training_examples:
            text = example.get(TEXT)
            if not isinstance(text, str):
                continue
            words = [m.group().lower().replace("’", "'") for m in _ASCII_WORD.finditer(text)]
            for word in words:
                vocabulary[word] = vocabulary.get(word, 0) + 1
            for pair in zip(words, words[1:]):
                bigram = " ".join(pair)
                bigrams[bigram] = bigrams.get(bigram, 0) + 1
            for entity in example.get(ENTITIES) or []:
                protect(entity.get(ENTITY_ATTRIBUTE_VALUE))
                if ENTITY_ATTRIBUTE_START in entity and ENTITY_ATTRIBUTE_END in entity:
                    protect(text[entity[ENTITY_ATTRIBUTE_START] : entity[ENTITY_ATTRIBUTE_END]])
        for synonym, value in training_data.entity_synonyms.items():
            protect(synonym)
            protect(value)
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            for element in elements if isinstance(elements, list) else []:
                protect(element)
        patterns = [p["pattern"] for p in training_data.regex_features if p.get("pattern")]

        learned = {
            "vocabulary": dict(sorted(vocabulary.items())),
            "protected_words": sorted(protected_words),
            "protected_phrases": sorted(protected_phrases),
            "regex_patterns": patterns,
            # only pairs seen twice: enough to rank spelling candidates, small on disk
            "bigrams": {b: n for b, n in sorted(bigrams.items()) if n >= 2},
        }
        self._learned = _merged(self._learned, learned) if self._finetuning else learned
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps(self._learned, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        self._prepare()
        logger.info(
            f"NoiseFilter learned {len(vocabulary)} words, {len(protected_words)} protected "
            f"words, {len(protected_phrases)} phrases, {len(patterns)} regexes."
        )
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Clean every NLU example (entity spans move with the text) and add noisy copies.

        Only examples with an intent are touched: end-to-end story messages are keyed by their
        text in Rasa's precomputation table, so their text must stay as it is.
        """
        examples = [m for m in training_data.training_examples if _is_nlu_example(m)]
        extra = noisy_messages(
            examples,
            int(self._config["augmentation_copies"]),
            float(self._config["augmentation_level"]),
            int(self._config["augmentation_seed"]),
        )
        for message in examples + extra:
            self._clean_training_example(message)
        if not extra:
            return training_data
        logger.info(f"NoiseFilter added {len(extra)} noisy training examples.")
        return TrainingData(
            training_examples=training_data.training_examples + extra,
            entity_synonyms=training_data.entity_synonyms,
            regex_features=training_data.regex_features,
            lookup_tables=training_data.lookup_tables,
            responses=training_data.responses,
        )

    def _clean_training_example(self, message: Message) -> None:
        text = message.get(TEXT)
        entities = message.get(ENTITIES) or []
        spans = [
            (e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END])
            for e in entities
            if ENTITY_ATTRIBUTE_START in e and ENTITY_ATTRIBUTE_END in e
        ]
        rewritten = self._safe_clean(text, spans)
        if rewritten.text == text:
            return
        moved = []
        for entity in entities:
            entity = dict(entity)
            if ENTITY_ATTRIBUTE_START in entity and ENTITY_ATTRIBUTE_END in entity:
                span = rewritten.to_clean_span(
                    entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
                )
                if span is None:
                    continue
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = span
            moved.append(entity)
        message.set(TEXT, rewritten.text)
        if entities:
            message.set(ENTITIES, moved)

    # ------------------------------------------------------------------ inference
    def process(self, messages: List[Message]) -> List[Message]:
        """Clean each message's text; keep the original, corrections and emoji in parse_data."""
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str):
                continue
            rewritten = self._safe_clean(text)
            message.set(TEXT, rewritten.text)
            message.set(
                NOISE_FILTER,
                noise_filter_record(
                    typed=text,
                    clean=rewritten.text,
                    corrections=[c for c in rewritten.corrections if c["kind"] != "emoji"],
                    emoji=[
                        {
                            "emoji": c["from"],
                            "name": _emoji_name(c["from"]),
                            "start": c["start"],
                            "end": c["end"],
                        }
                        for c in rewritten.corrections
                        if c["kind"] == "emoji"
                    ],
                    alignment=rewritten.alignment() if rewritten.text != text else [],
                ),
                add_to_output=True,
            )
        return messages

    # ------------------------------------------------------------------ the steps
    def _safe_clean(
        self, text: Text, protected_spans: Iterable[Tuple[int, int]] = ()
    ) -> RewrittenText:
        """`clean`, but bad input never breaks the pipeline: on any error the text stays as it is."""
        try:
            return self.clean(text, protected_spans)
        except Exception:  # noqa: BLE001 - one odd message must not take the bot down
            logger.exception(f"NoiseFilter could not clean a message of {len(text)} characters; "
                             "passing it through unchanged.")
            return RewrittenText(text)

    def clean(
        self, text: Text, protected_spans: Iterable[Tuple[int, int]] = ()
    ) -> RewrittenText:
        """Run the enabled steps on `text`; `protected_spans` (original offsets) stay untouched."""
        config = self._config
        rewritten = RewrittenText(text)
        protected = list(protected_spans)
        if not text:
            return rewritten
        limit = config["max_characters"]
        if len(text) > limit:
            rewritten.apply([(limit, len(text), "", None)])  # not listed: "from" would be huge
            rewritten.corrections.append({"from": f"{len(text) - limit} more characters", "to": "",
                                          "kind": "truncated", "start": limit, "end": len(text)})
        if not rewritten.text.isascii():
            if config["unicode"]:
                rewritten.apply(self._unicode_edits(rewritten.text, rewritten, protected))
            if config["emoji"]:
                rewritten.apply(_emoji_edits(rewritten.text))
        if config["control_characters"]:
            rewritten.apply(
                [(m.start(), m.end(), "", "control") for m in _CONTROL.finditer(rewritten.text)]
            )
        if config["elongation"]:
            rewritten.apply(
                [
                    (m.start(), m.end(), _shorten_punctuation(m.group()), "elongation")
                    for m in _REPEATED_PUNCTUATION.finditer(rewritten.text)
                ]
            )
        rewritten.apply(self._word_edits(rewritten, protected))
        rewritten.apply(_whitespace_edits(rewritten.text))
        return rewritten

    def _unicode_edits(
        self, text: Text, rewritten: RewrittenText, protected: List[Tuple[int, int]]
    ) -> List[Edit]:
        """Mojibake and width/compatibility forms, chunk by chunk so offsets stay local."""
        import ftfy

        edits: List[Edit] = []
        for match in _CHUNK.finditer(text):
            chunk = match.group()
            if chunk.isascii() or _overlaps(rewritten, match.start(), match.end(), protected):
                continue
            fixed = ftfy.fix_text(chunk, normalization="NFKC")
            if fixed != chunk:
                edits.append((match.start(), match.end(), fixed, "unicode"))
        return edits

    def _word_edits(self, rewritten: RewrittenText, protected: List[Tuple[int, int]]) -> List[Edit]:
        """Elongated words, shorthand, fillers and spelling, word by word."""
        text = rewritten.text
        config = self._config
        mask = self._protected_mask(text)
        spell = config["spelling"] and len(text) <= int(config["max_chars_for_spelling"])
        if config["spelling"] and not spell:
            logger.info(
                f"NoiseFilter skipped spelling correction for a message of {len(text)} "
                f"characters (max_chars_for_spelling={config['max_chars_for_spelling']})."
            )
        edits: List[Edit] = []
        matches = list(_ASCII_WORD.finditer(text))
        for position, match in enumerate(matches):
            start, end = match.span()
            word = match.group()
            key = word.lower().replace("’", "'")
            if (
                key in self._protected_words
                or any(mask[start:end])
                or _overlaps(rewritten, start, end, protected)
            ):
                continue
            # A capitalised word inside a sentence is most likely a name ("Rue de Rivoli").
            proper_noun = word[0].isupper() and text[:start].rstrip()[-1:] not in ("", ".", "!", "?")
            context = (
                matches[position - 1].group().lower() if position else "",
                matches[position + 1].group().lower() if position + 1 < len(matches) else "",
            )
            new, kinds = self._rewrite_word(key, word, spell and not proper_noun, context)
            if new is None:
                if text[end : end + 1] == ",":  # "um, can you" -> "can you"
                    end += 1
                edits.append((start, end, "", "filler"))
            elif new != key:
                edits.append((start, end, _match_case(word, new), "+".join(kinds)))
        return edits

    def _rewrite_word(
        self, key: Text, word: Text, spell: bool, context: Tuple[Text, Text] = ("", "")
    ) -> Tuple[Optional[Text], List[Text]]:
        """The word's replacement (None = drop it) and the kinds of change made; `context` is
        the (previous, next) word, which picks between equally close domain words."""
        config = self._config
        kinds: List[Text] = []
        if config["elongation"] and _ELONGATED.search(key):
            key = self._deelongate(key)
            kinds.append("elongation")
        if config["fillers"] and key in self._fillers:
            return None, kinds + ["filler"]
        if config["shorthand"] and key in self._shorthand:
            return self._shorthand[key], kinds + ["shorthand"]
        acronym = word.isupper() and len(word) <= 4
        if spell and not acronym and not self._known(key):
            corrected = self._in_context(self._correct(key), context)
            if corrected and corrected != key:
                return corrected, kinds + ["spelling"]
        return key, kinds

    def _known(self, word: Text) -> bool:
        return word in self._vocabulary or word in self._english_counts or "'" in word

    def _frequency(self, word: Text) -> int:
        # domain words outrank any English word
        return self._vocabulary.get(word, 0) * 10**12 + self._english_counts.get(word, 0)

    def _deelongate(self, word: Text) -> Text:
        """'sooo' -> 'so', 'goood' -> 'good': of the spellings with each run cut to one or two
        letters, the most frequent known one (else every run cut to two)."""
        runs = list(_ELONGATED.finditer(word))
        fallback = _ELONGATED.sub(lambda m: m.group(1) * 2, word)
        if len(runs) > 4:  # 2**runs variants; junk like "aaabbbccc..." gets the fallback
            return fallback
        variants = [""]
        position = 0
        for run in runs:
            letter = run.group(1)
            variants = [v + word[position : run.start()] for v in variants]
            variants = [v + letter for v in variants] + [v + letter * 2 for v in variants]
            position = run.end()
        known = [v + word[position:] for v in variants if self._known(v + word[position:])]
        return max(known, key=self._frequency) if known else fallback

    def _correct_uncached(self, word: Text) -> Tuple[Text, ...]:
        """The best replacements for an unknown word, best first (empty: leave it).

        A split into two of the bot's own words comes first: a missing space is one edit, and
        two domain words beat a domain word with a letter dropped ("myaccount" was "account",
        "inmy" was "indy" on Banking77). Then the closest domain words, if at least as close
        as the closest English word (several when equally close: the context picks).
        """
        from symspellpy import Verbosity

        if len(word) < int(self._config["min_word_length"]) or "'" in word:
            return ()
        domain_split = self._split_merged(word, self._vocabulary.__contains__)
        if domain_split:
            return (domain_split,)
        distance = 1 if len(word) <= 4 else int(self._config["max_edit_distance"])
        domain = self._domain_index.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        english = self._english.lookup(word, Verbosity.TOP, max_edit_distance=distance)
        if domain and (not english or domain[0].distance <= english[0].distance):
            return tuple(s.term for s in domain[:_MAX_CANDIDATES])
        if english and english[0].distance < 2:
            return (english[0].term,)
        # Two edits away is a guess; "wheremy" is more likely two merged words.
        split = self._split_merged(word, self._known)
        return (split,) if split else (english[0].term,) if english else ()

    def _in_context(
        self, candidates: Tuple[Text, ...], context: Tuple[Text, Text]
    ) -> Optional[Text]:
        """Of equally close candidates, the one seen most often next to these neighbours in
        the training data ("wht is" -> "what is", "why was"); ties go to the more frequent."""
        if len(candidates) <= 1 or not self._bigrams:
            return candidates[0] if candidates else None
        previous, following = context

        def seen_with_neighbours(candidate: Text) -> int:
            return self._bigrams.get(f"{previous} {candidate}", 0) + self._bigrams.get(
                f"{candidate} {following}", 0
            )

        return max(candidates, key=lambda c: (seen_with_neighbours(c), self._frequency(c)))

    def _split_merged(self, word: Text, known: Callable[[Text], bool]) -> Optional[Text]:
        """'wheremy' -> 'where my': the most frequent split into two `known` words."""
        splits = [
            (word[:i], word[i:])
            for i in range(2, len(word) - 1)
            if known(word[:i]) and known(word[i:])
        ]
        if not splits:
            return None
        left, right = max(splits, key=lambda s: min(self._frequency(s[0]), self._frequency(s[1])))
        return f"{left} {right}"

    def _protected_mask(self, text: Text) -> bytearray:
        """Spans of the current text to leave alone: URLs, emails, numbers (spaCy's lexical
        attributes), the training data's regexes (order ids) and multi-word entity values."""
        spans = [
            (token.idx, token.idx + len(token))
            for token in _spacy_tokenizer()(text)
            if token.like_url or token.like_email or token.like_num or _DIGIT.search(token.text)
        ]
        for pattern in self._regexes:
            spans.extend(m.span() for m in pattern.finditer(text) if m.end() > m.start())
        if self._protected_phrases is not None:
            spans.extend(m.span() for m in self._protected_phrases.finditer(text))
        mask = bytearray(len(text))
        for start, end in spans:
            mask[start:end] = b"\x01" * (end - start)
        return mask


def restore_original_offsets(parse_data: Dict[Text, Any]) -> Dict[Text, Any]:
    """parse_data with entity spans pointing into the text the user sent (and that text).

    DIET finds entities in NoiseFilter's cleaned text; this maps each entity's start/end back
    through `noise_filter.alignment` and puts the original text back in `text`. Entity values
    stay as extracted (from the cleaned text, e.g. "order" for the typed "ordr").
    """
    info = noise_filter_of(parse_data) or {}
    alignment = info.get("alignment") or []
    restored = dict(parse_data)
    if info:
        restored[TEXT] = info["text"]
    restored[ENTITIES] = []
    for entity in parse_data.get(ENTITIES) or []:
        entity = dict(entity)
        if alignment and ENTITY_ATTRIBUTE_START in entity and ENTITY_ATTRIBUTE_END in entity:
            entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = to_original_span(
                alignment, entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
            )
        restored[ENTITIES].append(entity)
    return restored


# ---------------------------------------------------------------------- helpers
def _is_nlu_example(message: Message) -> bool:
    return isinstance(message.get(TEXT), str) and bool(message.get(INTENT))


def _emoji_edits(text: Text) -> List[Edit]:
    import emoji

    # A space keeps "late😡again" two words; the whitespace step removes doubles.
    return [(m["match_start"], m["match_end"], " ", "emoji") for m in emoji.emoji_list(text)]


def _emoji_name(symbol: Text) -> Text:
    import emoji

    return emoji.demojize(symbol, delimiters=("", "")).strip()


def _shorten_punctuation(run: Text) -> Text:
    """'!!!' -> '!', '?!?' -> '?', '.....' -> '...', ',,' -> ','."""
    return "..." if run[0] == "." else run[0]


def _whitespace_edits(text: Text) -> List[Edit]:
    edits: List[Edit] = []
    for match in _WHITESPACE.finditer(text):
        start, end = match.span()
        if start == 0 or end == len(text):
            edits.append((start, end, "", None))
        elif match.group() != " ":
            edits.append((start, end, " ", None))
    return edits


def _match_case(original: Text, new: Text) -> Text:
    if original.isupper() and len(original) > 1:
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _overlaps(
    rewritten: RewrittenText, start: int, end: int, protected: List[Tuple[int, int]]
) -> bool:
    """Whether current-text [start, end) comes from a protected span of the original text."""
    if not protected or start >= end:
        return False
    orig_start, orig_end = rewritten.starts[start], rewritten.ends[end - 1]
    return any(s < orig_end and orig_start < e for s, e in protected)


def _phrase_pattern(phrases: List[Text]) -> Optional["re.Pattern[Text]"]:
    if not phrases:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _compile_patterns(patterns: List[Text]) -> List["re.Pattern[Text]"]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as error:
            logger.warning(f"NoiseFilter ignores the invalid regex {pattern!r}: {error}")
    return compiled


def _merged(previous: Dict[Text, Any], new: Dict[Text, Any]) -> Dict[Text, Any]:
    """Fine-tuning keeps every word, value and pattern learned before; counts take the larger."""

    def counts(key: Text) -> Dict[Text, int]:
        merged = dict(previous.get(key) or {})
        for word, count in new[key].items():
            merged[word] = max(count, merged.get(word, 0))
        return dict(sorted(merged.items()))

    def union(key: Text) -> List[Text]:
        return sorted(set(previous.get(key) or []) | set(new[key]))

    return {
        "vocabulary": counts("vocabulary"),
        "protected_words": union("protected_words"),
        "protected_phrases": union("protected_phrases"),
        "regex_patterns": list(dict.fromkeys(list(previous.get("regex_patterns") or []) + new["regex_patterns"])),
        "bigrams": counts("bigrams"),
    }
