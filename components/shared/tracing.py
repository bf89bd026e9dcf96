"""Prediction graphs traced without AutoGraph.

AutoGraph rewrites the Python source of every function a `tf.function` calls (BERT's layers,
DIET's whole prediction) so that Python `if`s and loops on tensors become graph ops; on this
2-core machine that rewriting was a quarter of loading the demo model (22.2 s, 16.5 s without).
The prediction code traced here has no such `if` or loop (shapes and settings only), so the
graph is the same without it; were one ever added, tracing would fail loudly ("Using a symbolic `tf.Tensor` as
a Python `bool` is not allowed"), not compute something else.
"""
from typing import Any, Callable, Optional, Sequence

import tensorflow as tf


def prediction_function(function: Callable, signature: Optional[Sequence[Any]]) -> Any:
    """`tf.function(function, input_signature=signature)` without AutoGraph."""
    return tf.function(function, input_signature=signature, autograph=False)
