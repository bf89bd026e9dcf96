"""A tiny random BERT whose vocabulary follows BERT's id layout ([UNK]=100, [CLS]=101, [SEP]=102),
which Rasa's LanguageModelFeaturizer assumes for `model_name: bert`."""
from pathlib import Path
from typing import Text

WORDS = (
    "hi hello hey where is my order status cancel it please yes no thanks bye the a id number "
    "refund money back card lost stolen i want to you ok sure not package late"
).split()


def write_tiny_bert(directory: Path, hidden_size: int = 32) -> Text:
    """A randomly initialised 2-layer BERT saved like a Hugging Face TF model."""
    from transformers import BertConfig, BertTokenizerFast, TFBertModel

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += WORDS
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(str(directory / "vocab.txt")).save_pretrained(str(directory))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    model = TFBertModel(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(directory))
    return str(directory)
