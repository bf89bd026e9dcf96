"""Prediction graphs traced without AutoGraph (components/shared/tracing.py)."""
import pytest
import tensorflow as tf

from components.shared.tracing import prediction_function

SCALAR = [tf.TensorSpec([], tf.float32)]


def absolute(x: tf.Tensor) -> tf.Tensor:
    return x if x > 0 else -x  # a Python `if` on a tensor: only AutoGraph can turn it into a graph


def test_python_control_flow_on_a_tensor_fails_loudly_instead_of_computing_something_else() -> None:
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        prediction_function(absolute, SCALAR)(tf.constant(-2.0))
    assert float(tf.function(absolute, input_signature=SCALAR)(tf.constant(-2.0))) == 2.0


def test_traced_once_for_every_shape_the_signature_allows() -> None:
    double = prediction_function(lambda x: 2 * x, [tf.TensorSpec([None, None], tf.float32)])
    assert double(tf.ones([1, 3])).shape == (1, 3)
    assert double(tf.ones([4, 7])).shape == (4, 7)
    assert double.experimental_get_tracing_count() == 1
