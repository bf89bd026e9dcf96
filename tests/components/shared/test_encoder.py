"""One setting names the encoder in every component; the old name still works, two names conflict."""
import pytest

from components.shared.encoder import (
    EncoderNotFoundError,
    configured_model,
    default_model_path,
    resolve_configured_model,
)


def test_no_setting_resolves_to_the_bundled_minilm() -> None:
    assert configured_model({"model_weights": None}) is None
    assert resolve_configured_model({"model_weights": None}) == default_model_path()


def test_the_old_name_is_an_alias(tmp_path) -> None:
    assert configured_model({"model_name_or_path": str(tmp_path)}) == str(tmp_path)
    assert resolve_configured_model({"model_weights": None, "model_name_or_path": str(tmp_path)}) == str(tmp_path)


def test_two_different_encoders_are_refused(tmp_path) -> None:
    with pytest.raises(EncoderNotFoundError, match="keep only `model_weights`"):
        configured_model({"model_weights": str(tmp_path), "model_name_or_path": "other"})


@pytest.mark.parametrize("setting", ["model_weights", "model_name_or_path"])
def test_an_unknown_encoder_is_named_by_the_key_the_user_wrote(setting: str) -> None:
    with pytest.raises(EncoderNotFoundError, match=f"`{setting}: no-such-org/no-such-bert`"):
        resolve_configured_model({setting: "no-such-org/no-such-bert"})
