"""Write an NLU file with seeded noisy copies of every example (typos, merged words, fillers...).

    python -m scripts.augment_nlu data/nlu.yml -o augmented.yml --copies 2 --level 0.2 --seed 1

The output holds the original examples followed by the noisy copies (same intents, entity
annotations moved to the right place), plus the synonyms, regexes and lookup tables of the input.
The same noise is what `NoiseFilter`'s `augmentation_copies` option adds at training time.
"""
import argparse
from pathlib import Path
from typing import List, Optional, Text

from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.noise_filter.augmentation import noisy_messages


def augment(data: TrainingData, copies: int, level: float, seed: int) -> TrainingData:
    """`data` plus noisy copies of its intent examples."""
    extra = noisy_messages(data.training_examples, copies, level, seed)
    return TrainingData(
        training_examples=data.training_examples + extra,
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
        responses=data.responses,
    )


def main(argv: Optional[List[Text]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("nlu", help="input NLU file (Rasa YAML)")
    parser.add_argument("-o", "--out", required=True, help="output NLU file (Rasa YAML)")
    parser.add_argument("--copies", type=int, default=1, help="noisy copies per example")
    parser.add_argument("--level", type=float, default=0.2, help="fraction of words hit")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if not 0.0 <= args.level <= 1.0:
        parser.error("--level must be between 0 and 1")

    data = load_data(args.nlu)
    augmented = augment(data, args.copies, args.level, args.seed)
    Path(args.out).write_text(RasaYAMLWriter().dumps(augmented), encoding="utf-8")
    added = len(augmented.training_examples) - len(data.training_examples)
    print(f"{args.out}: {len(data.training_examples)} examples + {added} noisy copies")


if __name__ == "__main__":
    main()
