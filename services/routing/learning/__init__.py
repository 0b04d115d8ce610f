"""Learning to route from labelled history: features, training, calibration, model directories, evaluation.

Modules, one job each (only `commands` and this file are light to import; the rest load scikit-learn):
  data        JSONL of labelled texts and routing corrections
  features    character and word TF-IDF, sentence embeddings through an injected `Encoder`
  classifier  the stacked classifier and `RoutingClassifier`, a `Predictor`
  compiled    the fitted TF-IDF and linear models' arithmetic without scikit-learn's per-call checks (Route)
  calibration temperature scaling, expected calibration error, the abstention threshold
  training    `train(items, ...) -> TrainedModel`, cross-validated and calibrated
  model_dir   `save_model` / `read_manifest` / `load_model`
  evaluation  `Prediction`, the `Predictor` protocol and the metrics of `linli eval routing`
  commands    `linli train routing` and `linli eval routing`
"""

from __future__ import annotations

from pathlib import Path

# Where `linli train routing` writes and `linli eval routing` reads by default, relative to the working directory
# like the index (var/index).
DEFAULT_MODEL_DIR = Path("var") / "models" / "routing"

# The resolved cases the deployed router's index is seeded with, and so its default training data and precedents.
DEFAULT_PRECEDENTS = Path(__file__).resolve().parents[2] / "retrieval" / "corpus" / "resolved_cases.jsonl"
