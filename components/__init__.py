"""Rapport's Rasa graph components: one subpackage per component, shared parts in `shared/`.

Public class paths, as configs and trained models name them:

- `components.noise_filter.NoiseFilter` (and `components.noise_filter.NoiseFilterRestorer`)
- `components.emotion_classifier.EmotionClassifier`
- `components.bert_context_policy.BertContextPolicy`
- `components.decision_tree_policy.DecisionTreePolicy`
- `components.compiled_lm_featurizer.CompiledLanguageModelFeaturizer` and
  `components.fast_loading_diet.FastLoadingDIETClassifier`: Rasa's own components, made faster to
  serve (single modules: there is nothing else to them)

`shared/contracts.py` says what each component puts into a message and who reads it.
"""
from components.shared.quiet_warnings import hide_library_deprecations

# `rasa shell` imports the components while it loads the model: from then on the libraries'
# deprecation warnings stay off the terminal (scripts/rasa_cli.py hides the earlier ones too).
hide_library_deprecations()
