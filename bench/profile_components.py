"""What each Rapport NLU step costs per message and at load, measured one component at a time.

No trained model is needed: the components are built the way Rasa's graph builds them (defaults,
shipped weights) and fed the user turns of the test stories, so this runs while the assistant's
config is still changing. Complements `bench.profile_serving`, which times a trained model's
graph nodes inside the real message path.

    .venv/bin/python -m bench.profile_components      # -> bench/results/profile_components.md
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from bench.e2e_speed import OFFLINE_ENV, RESULTS, load_conversations
from bench.profile_serving import rss_mb
from scripts.servers import REPO

for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)


def timed_load(build: Callable[[], Any]) -> Tuple[Any, float, float]:
    """(object, seconds, MB of resident memory it added)."""
    before, began = rss_mb(), time.perf_counter()
    built = build()
    return built, time.perf_counter() - began, rss_mb() - before


def per_message_ms(run: Callable[[Text], Any], texts: List[Text]) -> Tuple[float, float]:
    """(median, mean) milliseconds of `run(text)` over `texts`, after one warm-up call."""
    run(texts[0])
    times = []
    for text in texts:
        began = time.perf_counter()
        run(text)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), statistics.fmean(times)


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from components.compiled_lm_featurizer import CompiledLanguageModelFeaturizer
    from components.emotion_classifier.component import EmotionClassifier
    from components.shared.encoder import default_model_path, load_pretrained
    from components.noise_filter.component import NoiseFilter
    from components.bert_context_policy.turn_encoder import TurnEncoder

    texts = [t for turns in load_conversations(sorted(REPO.glob("tests/test_stories*.yml")))
             for t in turns]
    storage = LocalModelStorage(Path(tempfile.mkdtemp(prefix="profile_components-")))
    context = ExecutionContext(GraphSchema({}), node_name="profile")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    weights = {"model_name": "bert", "model_weights": default_model_path()}
    rows: List[Tuple[Text, Text, float, float, float, float]] = []

    def row(name: Text, note: Text, load: Tuple[float, float], ms: Tuple[float, float]) -> None:
        rows.append((name, note, load[0], load[1], ms[0], ms[1]))

    noise, *load = timed_load(lambda: NoiseFilter.create(
        NoiseFilter.get_default_config(), storage, Resource("noise"), context))
    row("NoiseFilter", "defaults, English dictionary only", load,
        per_message_ms(lambda t: noise.process([Message(data={"text": t})]), texts))

    def featurize(featurizer: Any) -> Callable[[Text], Message]:
        def run(text: Text) -> Message:
            message = Message(data={"text": text})
            tokenizer.process([message])
            return featurizer.process([message])[0]
        return run

    eager, *load = timed_load(lambda: LanguageModelFeaturizer(
        {**LanguageModelFeaturizer.get_default_config(), **weights}, context))
    row("LanguageModelFeaturizer (Rasa, eager)", "MiniLM, own copy of the weights", load,
        per_message_ms(featurize(eager), texts))

    compiled, *load = timed_load(lambda: CompiledLanguageModelFeaturizer(
        {**LanguageModelFeaturizer.get_default_config(), **weights}, context))
    row("CompiledLanguageModelFeaturizer", "MiniLM via components.shared.encoder cache", load,
        per_message_ms(featurize(compiled), texts))

    emotion, *load = timed_load(lambda: EmotionClassifier.create(
        EmotionClassifier.get_default_config(), storage, Resource("emotion"), context))
    featurized = {text: featurize(compiled)(text) for text in texts}
    row("EmotionClassifier", "shipped BiLSTM on the featurizer's MiniLM features", load,
        per_message_ms(lambda t: emotion.process([featurized[t]]), texts))

    def build_encoder() -> TurnEncoder:
        tokenizer_, model = load_pretrained(default_model_path())
        return TurnEncoder(tokenizer_, model, max_tokens=32, cache_size=0)

    encoder, *load = timed_load(build_encoder)
    row("BertContextPolicy's TurnEncoder", "a new text (cache miss); weights shared", load,
        per_message_ms(lambda t: encoder._run([t]), texts))

    lines = [
        "# Rapport components, one at a time",
        "",
        f"{len(texts)} user turns of tests/test_stories*.yml, one message per call, after one "
        f"warm-up call; load = building the component in a process that has already imported "
        f"Rasa and TensorFlow. Process RSS at the end: {rss_mb():.0f} MB. CPU shared with the team: "
        f"compare rows, not runs.",
        "",
        "| component | how | load s | RSS added MB | median ms/message | mean ms/message |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, note, load_s, rss, median, mean in rows:
        lines.append(f"| {name} | {note} | {load_s:.1f} | {rss:.0f} | {median:.1f} | {mean:.1f} |")
    report = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile_components.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
