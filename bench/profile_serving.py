"""Where a served message's time and the server's memory go, per graph component.

Loads a trained model the way `rasa run` does (`rasa.core.agent.load_agent`, same endpoints),
times every graph node Rasa runs for each message (NLU pipeline, policies) and the processor's
other steps (tracker store, actions), and records how long each component took to load and how
much resident memory it added. Then replays the test stories' user turns under cProfile.

    .venv/bin/python -m bench.profile_serving MODEL.tar.gz [--endpoints endpoints.yml]

Writes bench/results/profile_<model name>.md (tables) and .prof (cProfile, for snakeviz/pstats).
"""
import argparse
import asyncio
import cProfile
import functools
import io
import logging
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Text

from bench.e2e_speed import OFFLINE_ENV, RESULTS, load_conversations
from scripts.servers import REPO

for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)

logger = logging.getLogger("bench.profile_serving")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Timings:
    """Milliseconds per labelled step, collected while messages are handled."""

    def __init__(self) -> None:
        self.steps: Dict[Text, List[float]] = defaultdict(list)
        self.loads: Dict[Text, Dict[Text, float]] = {}

    def wrap(self, owner: Any, name: Text, label: Callable[..., Text]) -> None:
        """Time every call of `owner.name` under `label(self_of_call, args, kwargs)`."""
        original = getattr(owner, name)

        if asyncio.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed_async(obj: Any, *args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await original(obj, *args, **kwargs)
                finally:
                    self.steps[label(obj, args, kwargs)].append((time.perf_counter() - began) * 1000)

            setattr(owner, name, timed_async)
        else:
            @functools.wraps(original)
            def timed(obj: Any, *args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return original(obj, *args, **kwargs)
                finally:
                    self.steps[label(obj, args, kwargs)].append((time.perf_counter() - began) * 1000)

            setattr(owner, name, timed)

    def wrap_loading(self) -> None:
        """Record load time and RSS growth of each component as the model is loaded."""
        from rasa.engine.graph import GraphNode

        original = GraphNode._load_component

        @functools.wraps(original)
        def timed_load(node: GraphNode, **kwargs: Any) -> None:
            before, began = rss_mb(), time.perf_counter()
            try:
                original(node, **kwargs)
            finally:
                self.loads[node._node_name] = {
                    "load_s": time.perf_counter() - began, "rss_added_mb": rss_mb() - before,
                }

        GraphNode._load_component = timed_load


def instrument(timings: Timings) -> None:
    from rasa.core.processor import MessageProcessor
    from rasa.engine.graph import GraphNode

    timings.wrap(GraphNode, "__call__", lambda node, *_: f"node {node._node_name}")

    def action_label(_processor: Any, args: tuple, kwargs: Dict[Text, Any]) -> Text:
        action = kwargs.get("action", args[0] if args else None)
        return f"processor: run {type(action).__name__}"

    timings.wrap(MessageProcessor, "handle_message", lambda *_: "= whole message")
    timings.wrap(MessageProcessor, "parse_message", lambda *_: "processor: NLU graph (total)")
    timings.wrap(MessageProcessor, "_predict_next_with_tracker",
                 lambda *_: "processor: policy graph (total)")
    timings.wrap(MessageProcessor, "_run_action", action_label)
    timings.wrap(MessageProcessor, "fetch_tracker_and_update_session",
                 lambda *_: "processor: tracker store fetch")
    timings.wrap(MessageProcessor, "save_tracker", lambda *_: "processor: tracker store save")
    timings.wrap_loading()


def table(timings: Timings, messages: int) -> Text:
    rows = []
    for label, values in timings.steps.items():
        rows.append((sum(values) / messages, label, len(values), statistics.median(values)))
    lines = ["| step | calls | median ms/call | ms per message |", "|---|---:|---:|---:|"]
    for per_message, label, calls, median in sorted(rows, reverse=True):
        lines.append(f"| {label} | {calls} | {median:.2f} | {per_message:.2f} |")
    return "\n".join(lines)


def load_table(timings: Timings) -> Text:
    lines = ["| component (graph node) | load s | RSS added MB |", "|---|---:|---:|"]
    for node, info in sorted(timings.loads.items(), key=lambda item: -item[1]["rss_added_mb"]):
        lines.append(f"| {node} | {info['load_s']:.2f} | {info['rss_added_mb']:.0f} |")
    return "\n".join(lines)


async def replay(agent: Any, conversations: List[List[Text]], rounds: int, prefix: Text) -> int:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    count = 0
    for round_ in range(rounds):
        for index, turns in enumerate(conversations):
            for text in turns:
                await agent.handle_message(
                    UserMessage(text, CollectingOutputChannel(), f"{prefix}-{round_}-{index}")
                )
                count += 1
    return count


def switch_to_compiled_featurizer() -> None:
    """Make every loaded LanguageModelFeaturizer run its model as CompiledLanguageModelFeaturizer
    does, so eager and compiled can be compared on one loaded model."""
    import tensorflow as tf
    from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer

    from components.compiled_lm_featurizer import CompiledLanguageModelFeaturizer

    def compiled(self: Any, mask: Any, token_ids: Any) -> Any:
        if not hasattr(self, "_hidden_states"):
            model = self.model
            self._hidden_states = tf.function(
                lambda ids, m: model(ids, attention_mask=m, training=False)[0],
                input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2,
            )
        return CompiledLanguageModelFeaturizer._compute_batch_sequence_features(
            self, mask, token_ids
        )

    LanguageModelFeaturizer._compute_batch_sequence_features = compiled


async def profile(model: Path, endpoints: Optional[Path], conversations: List[List[Text]],
                  rounds: int, out: Path, compile_featurizer: bool = False) -> Text:
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    timings = Timings()
    instrument(timings)
    rss_start, began = rss_mb(), time.perf_counter()
    agent = await load_agent(
        model_path=str(model),
        endpoints=AvailableEndpoints.read_endpoints(str(endpoints)) if endpoints else None,
    )
    load_s, rss_loaded = time.perf_counter() - began, rss_mb()

    warm = await replay(agent, conversations[:1], 1, "warmup")
    timings.steps.clear()
    messages = await replay(agent, conversations, rounds, "timed")
    step_table = table(timings, messages)

    compiled_section: List[Text] = []
    if compile_featurizer:
        switch_to_compiled_featurizer()
        await replay(agent, conversations[:1], 1, "warmup-compiled")
        timings.steps.clear()
        compiled_messages = await replay(agent, conversations, rounds, "timed-compiled")
        compiled_section = [
            "## The same messages with the LanguageModelFeaturizer's model call compiled",
            "",
            "(`components.compiled_lm_featurizer`'s `tf.function`, switched on in this process.)",
            "",
            table(timings, compiled_messages),
            "",
        ]

    profiler = cProfile.Profile()
    profiler.enable()
    await replay(agent, conversations, 1, "profiled")
    profiler.disable()
    profiler.dump_stats(str(out.with_suffix(".prof")))
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)

    return "\n".join([
        f"# Serving profile of {model.name}",
        "",
        f"Model loaded in {load_s:.1f} s in-process (after imports; RSS {rss_start:.0f} -> "
        f"{rss_loaded:.0f} MB); {warm} warm-up messages, then {messages} timed messages "
        f"({rounds} rounds of the test stories); peak RSS now {rss_mb():.0f} MB.",
        "",
        "## Time per message, by step (nested: nodes are inside the processor totals)",
        "",
        step_table,
        "",
        *compiled_section,
        "## Loading, by component",
        "",
        load_table(timings),
        "",
        "## cProfile, one more round, top functions by cumulative time",
        "",
        "```",
        text.getvalue().strip(),
        "```",
        "",
    ])


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a trained model (.tar.gz)")
    parser.add_argument("--endpoints", help="endpoints.yml (tracker store, action server)")
    parser.add_argument("--project", default=str(REPO), help="where tests/test_stories*.yml are")
    parser.add_argument("--rounds", type=int, default=2, help="timed replays of the test stories")
    parser.add_argument("--compare-compiled", action="store_true",
                        help="then replay again with the LanguageModelFeaturizer compiled")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)  # Rasa's per-message debug events would drown the report

    model = Path(args.model).resolve()
    conversations = load_conversations(sorted(Path(args.project).glob("tests/test_stories*.yml")))
    out = Path(args.out) / f"profile_{model.name.split('.')[0]}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(profile(model, Path(args.endpoints) if args.endpoints else None,
                                 conversations, args.rounds, out, args.compare_compiled))
    out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
