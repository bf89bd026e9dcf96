"""Stop a pipeline in which a Rapport component cannot get what it reads (contracts.py).

Rasa builds one graph node per pipeline entry and names it after the entry and its position
(`run_WhitespaceTokenizer1`, `train_components.emotion_classifier.EmotionClassifier3`); every
component's `create` receives the whole graph in its `ExecutionContext`. From the names the
positions of the other components follow, so a component can check its neighbours when
`rasa train` builds it (and again when a model loads) and say what to move where, instead of
failing on the first message or silently doing nothing.
"""
from typing import List, Optional, Text, Tuple, Type

from rasa.core.policies.policy import Policy
from rasa.engine.graph import ExecutionContext
from rasa.shared.exceptions import InvalidConfigException

_GRAPH_PREFIXES = ("train_", "run_")


def pipeline_positions(context: ExecutionContext) -> Optional[List[Tuple[int, Type]]]:
    """(position, class) of every NLU component the graph shows, or None outside a graph."""
    nodes = context.graph_schema.nodes
    if not context.node_name or context.node_name not in nodes:
        return None
    positions = set()
    for name, node in nodes.items():
        cls = node.uses
        if not name.startswith(_GRAPH_PREFIXES) or issubclass(cls, Policy):
            continue
        position = name.rpartition(cls.__name__)[2]
        if position.isdigit():
            positions.add((int(position), cls))
    return sorted(positions, key=lambda item: item[0])


def _own_position(context: ExecutionContext, cls: Type) -> int:
    return int(context.node_name.rpartition(cls.__name__)[2])


def must_precede(context: ExecutionContext, cls: Type, others: Type, why: Text) -> None:
    """Raise unless `cls` comes before every component of type `others`."""
    positions = pipeline_positions(context)
    if positions is None:
        return
    own = _own_position(context, cls)
    for position, other in positions:
        if position < own and issubclass(other, others) and other is not cls:
            raise InvalidConfigException(
                f"{cls.__name__} is at position {own + 1} of the pipeline, after "
                f"{other.__name__} (position {position + 1}). {why} Move it above "
                f"{other.__name__} in config.yml."
            )


def must_follow(context: ExecutionContext, cls: Type, others: Type, why: Text) -> None:
    """Raise unless `cls` comes after every component of type `others`."""
    positions = pipeline_positions(context)
    if positions is None:
        return
    own = _own_position(context, cls)
    for position, other in positions:
        if position > own and issubclass(other, others) and other is not cls:
            raise InvalidConfigException(
                f"{cls.__name__} is at position {own + 1} of the pipeline, before "
                f"{other.__name__} (position {position + 1}). {why} Move it below "
                f"{other.__name__} in config.yml."
            )


def needs_earlier(context: ExecutionContext, cls: Type, needed: Type, why: Text) -> None:
    """Raise unless some component of type `needed` comes before `cls`."""
    positions = pipeline_positions(context)
    if positions is None:
        return
    own = _own_position(context, cls)
    if not any(position < own and issubclass(other, needed) for position, other in positions):
        raise InvalidConfigException(f"{cls.__name__} (position {own + 1} of the pipeline): {why}")
