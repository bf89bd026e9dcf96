"""Screen BertContextPolicy settings on held-out stories only (the 70/30 split, seed 42).

`bench/policies.py` gives the numbers that count (`rasa train core` + `rasa test core`); it is
too slow to try many settings. This trains RulePolicy once and the policy once per setting on
the same 70% (augmented as `rasa train` does), then picks the winner between them per turn with
Rasa's own `DefaultPolicyPredictionEnsemble` on every bot turn of the held-out 30%, the turns
`rasa test core` scores. Test stories are never used here, so nothing is tuned on them.

    nice -n 10 .venv/bin/python -m bench.bert_context_tuning --bots rapport_demo formbot
"""
import argparse
import json
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.importers.importer import TrainingDataImporter

from bench.policies import RESULTS, assistants, read_training_data, split_stories, write_data
from components.bert_context_policy.policy import BertContextPolicy
from tests.checks.policy_contract import next_action_cases

SETTINGS: Dict[Text, Dict[Text, Any]] = {
    "defaults": {},
    "dropout 0.3": {"dropout": 0.3},
    "balanced classes": {"class_weight": "balanced"},
    "smaller head (32/64)": {"turn_size": 32, "hidden_size": 64},
    "30 epochs": {"epochs": 30},
}


def held_out_accuracy(bot: Text, names: List[Text], seed: int) -> Dict[Text, Any]:
    assistant = assistants()[bot]
    data = read_training_data(assistant.data)
    train_part, test_part = split_stories(data["stories"], seed)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        train_file = write_data(directory / "train.yml", data, train_part, data["rules"])
        test_file = write_data(directory / "test.yml", data, test_part, [])
        domain = TrainingDataImporter.load_from_dict(
            domain_path=str(assistant.domain), training_data_paths=[str(train_file)]
        ).get_domain()
        trackers = load_data(str(train_file), domain, augmentation_factor=50)
        tests = load_data(str(test_file), domain, augmentation_factor=0)
        cases = list(next_action_cases(tests, domain))
        storage = LocalModelStorage(directory)
        context = ExecutionContext(GraphSchema({}), "tuning")
        rules = RulePolicy.create(
            RulePolicy.get_default_config(), storage, Resource("rules"), context
        )
        rules.train(trackers, domain)
        rule_only_data = rules._get_rule_only_data()
        ensemble = DefaultPolicyPredictionEnsemble()
        result: Dict[Text, Any] = {"train_stories": len(train_part),
                                   "test_stories": len(test_part), "turns": len(cases)}
        for name in names:
            config = {**BertContextPolicy.get_default_config(), **SETTINGS[name]}
            policy = BertContextPolicy.create(config, storage, Resource(f"p{len(result)}"), context)
            policy.train(trackers, domain)
            wrong = []
            for tracker, gold in cases:
                predictions = [
                    p.predict_action_probabilities(tracker, domain, rule_only_data=rule_only_data)
                    for p in (rules, policy)
                ]
                best = ensemble.combine_predictions(predictions, tracker, domain)
                action = domain.action_names_or_texts[int(np.argmax(best.probabilities))]
                if action != gold:
                    wrong.append(f"{gold} <- {action}")
            result[name] = {"action_accuracy": round(1 - len(wrong) / len(cases), 4),
                            "wrong": wrong}
            print(bot, name, json.dumps(result[name]), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", nargs="+", default=["rapport_demo", "formbot"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    results = {bot: held_out_accuracy(bot, args.settings, args.seed) for bot in args.bots}
    out = RESULTS / "bert_context_tuning" / f"{'_'.join(args.bots)}_seed{args.seed}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seed": args.seed, "settings": {n: SETTINGS[n] for n in args.settings},
                               "results": results}, indent=2), encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
