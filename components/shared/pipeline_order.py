"""Stop a pipeline in which a Rapport component cannot get what it reads (contracts.py).

Rasa builds one graph node per pipeline entry and names it after the entry and its position
(`run_WhitespaceTokenizer1`, `train_components.emotion_classifier.EmotionClassifier3`); every
component's `create` receives the whole graph in its `ExecutionContext`. From the names the
positions of the other components follow, so a component can check its neighbours when
`rasa train` builds it and say what to move where, instead of failing on the first message or
silently doing nothing. When a model loads, the same finding is a warning: a model trained
before these checks existed must still serve.
"""
import logging
from typing import List, Optional, Text, Tuple, Type, Union

from rasa.core.policies.policy import Policy
from rasa.engine.graph import ExecutionContext
from rasa.shared.exceptions import InvalidConfigException

logger = logging.getLogger(__name__)

_GRAPH_PREFIXES = ("train_", "run_")
Types = Union[Type, Tuple[Type, ...]]


def _complain(context: ExecutionContext, message: Text) -> None:
    """Stop `rasa train`; when a trained model loads (no train_ nodes), warn instead."""
    if any(name.startswith("train_") for name in context.graph_schema.nodes):
        raise InvalidConfigException(message)
    logger.warning(message)


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


def must_precede(
    context: ExecutionContext, cls: Type, others: Types, why: Text, unless: Types = ()
) -> None:
    """Complain unless `cls` comes before every component of type `others` (but `unless`)."""
    _check_order(context, cls, others, why, unless, first=True)


def must_follow(
    context: ExecutionContext, cls: Type, others: Types, why: Text, unless: Types = ()
) -> None:
    """Complain unless `cls` comes after every component of type `others` (but `unless`)."""
    _check_order(context, cls, others, why, unless, first=False)


def _check_order(
    context: ExecutionContext, cls: Type, others: Types, why: Text, unless: Types, first: bool
) -> None:
    positions = pipeline_positions(context)
    if positions is None:
        return
    own = _own_position(context, cls)
    where, move = ("after", "above") if first else ("before", "below")
    for position, other in positions:
        misplaced = position < own if first else position > own
        if misplaced and _is(other, others, unless) and other is not cls:
            _complain(
                context,
                f"{cls.__name__} is at position {own + 1} of the pipeline, {where} "
                f"{other.__name__} (position {position + 1}). {why} Move it {move} "
                f"{other.__name__} in config.yml.",
            )
            return


def needs_earlier(context: ExecutionContext, cls: Type, needed: Types, why: Text) -> None:
    """Complain unless some component of type `needed` comes before `cls`."""
    positions = pipeline_positions(context)
    if positions is None:
        return
    own = _own_position(context, cls)
    if not any(position < own and issubclass(other, needed) for position, other in positions):
        _complain(context, f"{cls.__name__} (position {own + 1} of the pipeline): {why}")


def _is(cls: Type, kinds: Types, unless: Types) -> bool:
    return issubclass(cls, kinds) and not (unless and issubclass(cls, unless))
