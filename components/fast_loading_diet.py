"""A DIETClassifier that loads by building its prediction graph only.

When Rasa 3.6 loads a DIET model (`RasaModel.load`) it first runs one *training* step on an
example so that Keras creates every weight, then reads the checkpoint over them. Tracing that
step, with its loss, gradients, optimizer and (for entities) the CRF likelihood, is most of
`rasa run`'s start-up: 66 s of a 98 s load for the demo's DIET on an idle 2-core machine
(BENCHMARKS.md, "End-to-end speed"). A served model never trains, so this subclass creates the
weights with the prediction Rasa runs right after loading anyway, and restores the checkpoint as
the weights appear (TensorFlow's deferred restoration). Training, the saved files and every
prediction are Rasa's own; only `load` differs, and only when there is a prediction example to
build from and the model is not being fine-tuned (then Rasa's own `load` runs).
"""
from typing import Any, Optional, Text, Type

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.diet_classifier import DIET, DIETClassifier
from rasa.utils.tensorflow.model_data import RasaModelData
from rasa.utils.tensorflow.models import RasaModel

from components.shared.tracing import prediction_function


class PredictionGraphLoad:
    """Mixin for Rasa's TensorFlow models: `load` without tracing a training step."""

    @classmethod
    def load(
        cls,
        model_file_name: Text,
        model_data_example: RasaModelData,
        predict_data_example: Optional[RasaModelData] = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> RasaModel:
        if finetune_mode or predict_data_example is None:
            return super().load(  # type: ignore[misc]
                model_file_name,
                model_data_example,
                predict_data_example,
                finetune_mode,
                *args,
                **kwargs,
            )
        model = cls(*args, **kwargs)  # type: ignore[call-arg]
        # The checkpoint also holds the optimizer's slots, which serving never creates.
        model.load_weights(model_file_name).expect_partial()
        model.run_inference(predict_data_example)
        return model

    def _rasa_predict(self, batch_in: Any) -> Any:
        """Rasa's, with the prediction step traced without AutoGraph (components/shared/tracing.py)."""
        if self._tf_predict_step is None and not self._run_eagerly:  # type: ignore[attr-defined]
            self._tf_predict_step = prediction_function(  # type: ignore[attr-defined]
                self.predict_step, self._dynamic_signature(batch_in)  # type: ignore[attr-defined]
            )
        return super()._rasa_predict(batch_in)  # type: ignore[misc]


class PredictionLoadedDIET(PredictionGraphLoad, DIET):
    """DIET's network, loaded for prediction only."""


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER,
        DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR,
    ],
    is_trainable=True,
)
class FastLoadingDIETClassifier(DIETClassifier):
    """Rasa's DIETClassifier, loaded without tracing a training step: `rasa run` starts sooner.

    When Rasa 3.6 loads DIET it first runs one training step so that Keras creates the weights,
    and TensorFlow traces that whole step (loss, gradients, optimizer, the CRF for entities)
    before the server can answer: 66 s of a 98 s model load for the demo assistant. A server
    never trains, so this class builds the weights with the prediction Rasa runs right after
    loading anyway and restores the checkpoint into them. Training, the saved files and every
    prediction are DIET's own; when Rasa fine-tunes a model (`rasa train --finetune`), or the
    model has no stored prediction example, Rasa's own load runs.

    **Settings**

    All of Rasa's `DIETClassifier` settings, unchanged: see
    [Rasa's documentation](https://rasa.com/docs/rasa/3.x/components#dietclassifier).

    **Configuration**

    ```yaml
    pipeline:
      # ... tokenizer, featurizers ...
      - name: components.fast_loading_diet.FastLoadingDIETClassifier
        epochs: 100
        constrain_similarities: true
    ```
    """

    @staticmethod
    def model_class() -> Type[RasaModel]:
        return PredictionLoadedDIET

