"""Tiny random models for unit tests: the real code paths at a fraction of the cost.

One BERT for every test (the `tiny_bert` fixture in tests/conftest.py): 2 layers of width 32,
random weights, saved the way Hugging Face saves a model, so anything that loads a BERT
directory (Rasa's LanguageModelFeaturizer, components.shared.encoder) loads it. The vocabulary
keeps BERT's layout, because Rasa adds [CLS]=101 and [SEP]=102 by number.
"""
from pathlib import Path
from typing import List, Text

TINY_BERT_WORDS: List[Text] = (
    ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + (
        "hi hello where is my order status cancel it please yes no thanks bye the a id number "
        "greet check affirm deny thank goodbye inform i want to you ok sure not a1001 refund "
        "arrived ? ! , ."
    ).split()
)


def write_tiny_bert(directory: Path) -> Text:
    """Save a random 2-layer BERT with `TINY_BERT_WORDS` as its vocabulary in `directory`."""
    from transformers import BertConfig, BertTokenizerFast, TFBertModel

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(TINY_BERT_WORDS) + "\n", encoding="utf-8")
    BertTokenizerFast(str(directory / "vocab.txt")).save_pretrained(str(directory))
    config = BertConfig(
        vocab_size=len(TINY_BERT_WORDS), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=512,  # Rasa truncates long messages to 512 tokens
    )
    model = TFBertModel(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(directory))
    return str(directory)
