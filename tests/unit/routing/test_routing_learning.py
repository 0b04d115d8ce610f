"""The routing classifier: training on any label set, calibration, abstention, model directories and the CLI."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from linli.catalog import load_catalog
from linli.errors import InvalidArgument
from linli.parties import DEFAULT_PARTIES
from services.cli.main import main
from services.routing.learning.calibration import expected_calibration_error, precision_threshold
from services.routing.learning.classifier import ENTRIES, EntryExample, EntryModel, RoutingClassifier
from services.routing.learning.data import (
    Correction,
    LabelledText,
    read_corrections,
    read_labelled,
    with_corrections,
)
from services.routing.learning.evaluation import REPORT_KEYS
from services.routing.learning.features import EmbedderEncoder, FeatureConfig
from services.routing.learning.model_dir import (
    CLASSIFIER_FILE,
    MANIFEST_FILE,
    ModelDirectoryError,
    load_model,
    read_manifest,
    save_model,
)
from services.routing.learning.training import TrainedModel, TrainingConfig, train
from services.routing.signals import catalog_examples
from tests.unit.fakes import HashEmbedder

# Four city departments, none of them a default party: the classifier must learn whatever labels it is given.
DEPARTMENTS: dict[str, list[str]] = {
    "water_affairs": ["停水了", "水管爆裂", "自来水发黄", "水压太低"],
    "sanitation": ["垃圾没人清运", "垃圾堆积发臭", "公厕很脏", "垃圾桶满了"],
    "traffic": ["红绿灯坏了", "公交车不准点", "路口天天拥堵", "违章停车堵路"],
    "education": ["学校乱收费", "校外培训班违规", "学生午餐质量差", "幼儿园入学难"],
}
PLACES = ["幸福小区", "人民路", "东门街", "学府路", "新华村"]
ENDINGS = ["请尽快处理", "已经好几天了"]
CONFIG = TrainingConfig(features=FeatureConfig(word_ngrams=None, head_chars=8, tail_chars=4), folds=3)


def corpus(places: list[str] = PLACES) -> list[LabelledText]:
    return [
        LabelledText(f"{place}{problem},{ending}", label)
        for label, problems in DEPARTMENTS.items()
        for place, problem, ending in itertools.product(places, problems, ENDINGS)
    ]


def encoder(dimension: int = 16, name: str = "hash-embedder") -> EmbedderEncoder:
    return EmbedderEncoder(HashEmbedder(dimension=dimension, name=name))


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    return train(corpus(), config=CONFIG, encoder=encoder())


@pytest.fixture
def model_dir(trained: TrainedModel, tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    save_model(trained, directory)
    return directory


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_saved_model_loads_and_routes_new_texts_to_its_own_labels(model_dir: Path) -> None:
    classifier = load_model(model_dir, encoder=encoder())
    texts = ["滨江花园水管爆裂,到处是水", "滨江花园垃圾桶满了没人管", "滨江路口红绿灯坏了", "滨江小学学校乱收费"]
    predictions = classifier.predict(texts)
    assert [p.label for p in predictions] == ["water_affairs", "sanitation", "traffic", "education"]
    for prediction in predictions:
        assert set(prediction.probabilities) == set(DEPARTMENTS)
        assert math.isclose(sum(prediction.probabilities.values()), 1.0, rel_tol=1e-9)
        assert prediction.confidence == max(prediction.probabilities.values())


def test_the_manifest_records_what_the_model_was_built_from(model_dir: Path, trained: TrainedModel) -> None:
    manifest = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["format_version"] == 1
    assert manifest["labels"] == sorted(DEPARTMENTS)
    assert manifest["embedding"] == {"model": "hash-embedder", "dimension": 16}
    assert manifest["data"]["count"] == len(corpus())
    assert manifest["data"]["sha256"] == trained.data.sha256
    assert 0.0 < manifest["threshold"] <= 1.0
    assert {"accuracy", "macro_f1", "ece", "coverage"} <= set(manifest["cross_validated"])
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".")], "a temporary folder was left"


def test_the_router_abstains_exactly_below_its_threshold(trained: TrainedModel) -> None:
    texts = ["幸福小区水管爆裂", "人民路垃圾桶满了", "学校门口红绿灯坏了又乱收费", "有事情请处理"]
    confidences = [
        p.confidence for p in RoutingClassifier(trained.classifier, threshold=0.0, encoder=encoder()).predict(texts)
    ]
    threshold = float(np.median(confidences))
    predictions = RoutingClassifier(trained.classifier, threshold=threshold, encoder=encoder()).predict(texts)
    assert [p.abstained for p in predictions] == [c < threshold for c in confidences]
    assert any(p.abstained for p in predictions)
    assert not all(p.abstained for p in predictions)


def test_loading_with_another_embedding_model_or_dimension_fails_clearly(model_dir: Path) -> None:
    with pytest.raises(ModelDirectoryError, match=r"hash-embedder.*16-d.*other-model"):
        load_model(model_dir, encoder=encoder(name="other-model"))
    with pytest.raises(ModelDirectoryError, match=r"32-d"):
        load_model(model_dir, encoder=encoder(dimension=32))
    with pytest.raises(ModelDirectoryError, match="no encoder"):
        load_model(model_dir)


def test_a_corrupt_or_missing_file_is_named(model_dir: Path) -> None:
    (model_dir / CLASSIFIER_FILE).write_bytes(b"not a model")
    with pytest.raises(ModelDirectoryError, match=r"classifier\.joblib is corrupt"):
        load_model(model_dir, encoder=encoder())
    (model_dir / MANIFEST_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(ModelDirectoryError, match="corrupt"):
        read_manifest(model_dir)
    (model_dir / MANIFEST_FILE).unlink()
    with pytest.raises(ModelDirectoryError, match=r"manifest\.json is missing"):
        load_model(model_dir, encoder=encoder())


def test_a_model_with_labels_outside_a_fixed_set_is_refused(model_dir: Path) -> None:
    with pytest.raises(ModelDirectoryError, match="unknown label"):
        load_model(model_dir, encoder=encoder(), required_labels=DEFAULT_PARTIES)
    with pytest.raises(InvalidArgument, match="water_affairs"):
        train(corpus(), config=CONFIG, encoder=encoder(), allowed_labels=DEFAULT_PARTIES)


def test_saving_again_replaces_the_model_whole(model_dir: Path) -> None:
    two_labels = [item for item in corpus() if item.label in ("traffic", "education")]
    save_model(train(two_labels, config=CONFIG, encoder=encoder()), model_dir)
    classifier = load_model(model_dir, encoder=encoder())
    assert classifier.labels == ("education", "traffic")
    (prediction,) = classifier.predict(["东门街公交车不准点"])
    assert prediction.label == "traffic"
    assert math.isclose(sum(prediction.probabilities.values()), 1.0)


def test_text_features_alone_need_no_encoder() -> None:
    config = TrainingConfig(features=FeatureConfig(embed=False, word_ngrams=(1, 2)), folds=3)
    model = train(corpus(), config=config)
    assert model.classifier.embedding is None
    (prediction,) = RoutingClassifier(model.classifier, threshold=0.5, encoder=None).predict(["人民路停水了"])
    assert prediction.label == "water_affairs"


def test_the_same_data_and_seed_give_the_same_model() -> None:
    texts = ["人民路停水了", "学府路垃圾没人清运", "红绿灯坏了好几天", "幼儿园乱收费"]
    first, second = (train(corpus(), config=CONFIG, encoder=encoder()) for _ in range(2))
    assert first.threshold == second.threshold
    assert np.array_equal(
        first.classifier.probabilities(texts, encoder()), second.classifier.probabilities(texts, encoder())
    )


def test_a_bad_jsonl_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "停水了", "label": "water_affairs"}\n\n{"text": "垃圾", "label": \n', encoding="utf-8")
    with pytest.raises(InvalidArgument, match=rf"{path}:3: not valid JSON"):
        read_labelled(path)
    write_jsonl(path, [{"text": "停水了", "label": "water_affairs"}, {"text": "垃圾"}])
    with pytest.raises(InvalidArgument, match=rf'{path}:2: "label" must be a non-empty string'):
        read_labelled(path)


def test_titles_are_prepended_and_the_case_corpus_format_is_detected(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "cases.jsonl",
        [{"complaint": "楼道灯坏了", "party": "property_manager", "title": "灯"}, {"complaint": "x", "party": "y"}],
    )
    items = read_labelled(path)
    assert items[0] == LabelledText("灯\n楼道灯坏了", "property_manager")
    assert items[1].label == "y"


def test_a_correction_overrides_the_label_of_its_text(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "corrections.jsonl", [{"text": "停水了", "from": "sanitation", "to": "water_affairs"}]
    )
    corrections = read_corrections(path)
    assert corrections == [Correction("停水了", "sanitation", "water_affairs")]
    items = [LabelledText("停水了", "sanitation"), LabelledText("公厕很脏", "sanitation")]
    assert with_corrections(items, corrections) == [
        LabelledText("停水了", "water_affairs"),
        LabelledText("公厕很脏", "sanitation"),
    ]
    assert with_corrections([], corrections) == [LabelledText("停水了", "water_affairs")]


def test_the_threshold_is_the_lowest_confidence_that_keeps_the_target_precision() -> None:
    confidences = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, True, False, True, False])
    assert precision_threshold(confidences, correct, 1.0) == pytest.approx(0.9)
    assert precision_threshold(confidences, correct, 0.8) == pytest.approx(0.7)
    assert precision_threshold(confidences, ~correct | True, 0.95) == pytest.approx(0.6)
    assert precision_threshold(confidences, np.zeros(6, dtype=bool), 0.5) > 1.0


def test_ece_weighs_each_bin_by_its_share() -> None:
    confidences = np.array([0.9, 0.9, 0.3, 0.3])
    correct = np.array([True, False, False, False])
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.5 * 0.4 + 0.5 * 0.3)
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0


def test_eval_cli_prints_the_report_as_its_last_stdout_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train_file = write_jsonl(tmp_path / "train.jsonl", [{"text": i.text, "label": i.label} for i in corpus()])
    test_rows = [{"title": "来信", "text": i.text, "label": i.label} for i in corpus(["滨江花园", "北大街"])]
    test_file = write_jsonl(tmp_path / "test.jsonl", test_rows)
    args = ["--test", str(test_file), "--no-embeddings", "--no-words", "--folds", "3"]
    assert main(["eval", "routing", "--train", str(train_file), *args]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert list(report) == list(REPORT_KEYS)
    assert report["n"] == len(test_rows)
    assert report["accuracy"] > 0.9
    assert set(report["per_class"]) == set(DEPARTMENTS)
    assert sum(sum(row.values()) for row in report["confusion"].values()) == len(test_rows)
    assert report["train_seconds"] > 0
    assert "[routing]" in captured.err


def test_train_cli_writes_a_model_directory_that_eval_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train_file = write_jsonl(tmp_path / "train.jsonl", [{"text": i.text, "label": i.label} for i in corpus()])
    out = tmp_path / "model"
    assert main(["train", "routing", "--data", str(train_file), "--out", str(out), "--no-embeddings"]) == 0
    assert read_manifest(out).embedding is None
    assert main(["eval", "routing", "--test", str(train_file), "--model", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["train_seconds"] == 0
    assert report["n"] == len(corpus())


def test_eval_of_the_deployed_router_trains_the_services_first_model_when_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the default model directory is relative to the working directory
    rows = [
        {"text": "楼道里的灯坏了好几天,晚上上楼看不见", "label": "property_manager"},
        {"text": "想用维修基金给老楼加装电梯,要怎么表决", "label": "owners_committee"},
        {"text": "小区门口马路上有人占道经营,堵得走不了", "label": "street_office"},
    ]
    test_file = write_jsonl(tmp_path / "test.jsonl", rows)
    args = ["eval", "routing", "--test", str(test_file), "--no-embeddings", "--no-words", "--folds", "3"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["n"] == 3
    assert first["train_seconds"] > 0
    manifest = read_manifest(tmp_path / "var" / "models" / "routing")
    assert manifest.data.count > 1000  # the packaged resolved cases, as routing trains at its first start
    assert main(args) == 0  # now it is there: evaluated as deployed, nothing trained
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["train_seconds"] == 0


def test_cli_reports_a_bad_line_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "停水了", "label": "water_affairs"}\n[1, 2]\n', encoding="utf-8")
    assert main(["train", "routing", "--data", str(bad), "--out", str(tmp_path / "m"), "--no-embeddings"]) == 2
    assert f"{bad}:2: expected a JSON object" in capsys.readouterr().err
    good = write_jsonl(tmp_path / "good.jsonl", [{"text": "停水了", "label": "water_affairs"}])
    assert main(["eval", "routing", "--test", str(good), "--model", str(tmp_path / "missing")]) == 2
    assert "no model directory" in capsys.readouterr().err


def department_entries() -> list[EntryExample]:
    """Two "catalog entries" per department, each named by two of its problems."""
    return [
        EntryExample(problem, f"{label}-{index // 2}", label)
        for label, problems in DEPARTMENTS.items()
        for index, problem in enumerate(problems)
    ]


def test_the_entry_model_scores_each_label_by_its_best_entry() -> None:
    examples = department_entries()
    embed = encoder(dimension=32)
    labels = tuple(sorted(DEPARTMENTS))
    model = EntryModel(labels, c=10.0).fit(embed([e.text for e in examples]), examples)
    scores = model.decision_function(embed([e.text for e in examples]))
    assert scores.shape == (len(examples), len(labels))
    assert [labels[i] for i in scores.argmax(axis=1)] == [e.label for e in examples]
    with pytest.raises(ValueError, match="not fitted"):
        EntryModel(labels, c=1.0).decision_function(scores)


def test_catalog_entries_join_a_model_of_their_labels_and_speak_as_the_catalog() -> None:
    model = train(corpus(), config=CONFIG, encoder=encoder(), entry_examples=department_entries())
    assert isinstance(model.classifier.base_models[ENTRIES], EntryModel)
    probabilities, attributions = model.classifier.explain(["人民路停水了"], encoder())
    assert math.isclose(float(probabilities.sum()), 1.0)
    assert set(attributions[0].opinions) == {"classifier", "catalog"}  # entries are explained as the catalog


def test_catalog_entries_of_other_labels_are_left_out() -> None:
    lines: list[str] = []
    model = train(corpus(), config=CONFIG, encoder=encoder(), entry_examples=catalog_examples(load_catalog()),
                  progress=lines.append)  # fmt: skip
    assert ENTRIES not in model.classifier.base_models
    assert any("left out" in line for line in lines)
    (prediction,) = RoutingClassifier(model.classifier, threshold=0.0, encoder=encoder()).predict(["人民路停水了"])
    assert prediction.label == "water_affairs"


def test_catalog_examples_name_every_entry_with_its_party() -> None:
    catalog = load_catalog()
    examples = catalog_examples(catalog)
    assert {e.entry for e in examples} == {entry.id for entry in catalog.entries}
    first = catalog.entries[0]
    assert examples[0] == EntryExample(first.name, first.id, first.party)
    assert catalog_examples(None) == []
