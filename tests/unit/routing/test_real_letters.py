"""Reading real letters: the request-passage finder, the EM prior shift and the supervision catalog entries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from linli.catalog import Catalog, load_catalog
from services.cli.main import main
from services.routing.learning.calibration import expected_calibration_error
from services.routing.learning.model_dir import load_model, read_manifest
from services.routing.learning.prior_shift import (
    PriorShift,
    adjust_posteriors,
    estimate_priors,
    fit_prior_shift,
    training_priors,
)
from services.routing.passages import (
    LONG_TEXT_CHARS,
    PASSAGE_BUDGET_CHARS,
    reading_texts,
    request_passages,
    request_score,
    split_sentences,
)
from tests.unit.routing.test_routing_learning import corpus, write_jsonl

CONTEXT = "我家住在三栋二单元，已经在这里住了十多年，以前一直还算安静，邻居们相处也很融洽，大家互相帮助。"
ASK = "恳请街道尽快调查处理业委会选举违规的问题。"


def test_sentences_are_cut_after_chinese_and_western_end_punctuation() -> None:
    assert split_sentences("第一句。第二句！第三句?\n第四句；") == ["第一句。", "第二句！", "第三句?", "第四句；"]


def test_request_sentences_outscore_context() -> None:
    assert request_score(ASK) > request_score(CONTEXT)
    assert request_score("请有关部门尽快解决。") > request_score("请看。")  # 请...解决 is a request clause


def test_short_texts_pass_through_unchanged() -> None:
    text = "楼道灯坏了，麻烦物业来修一下"
    assert request_passages(text) == text
    assert reading_texts([text]) == [text]


def test_a_long_letter_keeps_its_title_and_the_request_buried_in_context() -> None:
    title = "业委会选举的问题"
    letter = f"{title}\n{CONTEXT * 3}{ASK}{CONTEXT * 3}"
    assert len(letter) > LONG_TEXT_CHARS
    read = request_passages(letter)
    assert read.startswith(f"{title}\n")
    assert ASK in read
    assert len(read) <= len(title) + 1 + PASSAGE_BUDGET_CHARS
    # Truncation to the model's head would have lost the request.
    assert ASK not in letter[:128]


def test_catalog_keywords_lift_the_sentence_naming_the_matter() -> None:
    sentences = "".join(f"第{n}件事说来话长，前前后后拖了很多年。" for n in range(20)) + "维修资金被挪用了。"
    read = request_passages(sentences, keywords=["挪用"], budget=40)
    assert "维修资金被挪用了。" in read


def _sample(priors: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    labels: np.ndarray = rng.choice(len(priors), size=size, p=priors)
    return labels


def _calibrated_posteriors(labels: np.ndarray, train_priors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exact Bayes posteriors under `train_priors` for 1-d Gaussian features centred on each class index."""
    features = labels + rng.normal(0.0, 0.8, size=len(labels))
    likelihood = np.exp(-0.5 * ((features[:, None] - np.arange(len(train_priors))[None, :]) / 0.8) ** 2)
    joint = likelihood * train_priors[None, :]
    posteriors: np.ndarray = joint / joint.sum(axis=1, keepdims=True)
    return posteriors


def test_em_recovers_known_priors_and_keeps_posteriors_calibrated() -> None:
    rng = np.random.default_rng(7)
    train_priors, true_priors = np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.2, 0.7])
    labels = _sample(true_priors, 20_000, rng)
    posteriors = _calibrated_posteriors(labels, train_priors, rng)
    estimated, iterations = estimate_priors(posteriors, train_priors)
    assert np.abs(estimated - true_priors).max() < 0.02
    assert 1 < iterations < 200
    adjusted = adjust_posteriors(posteriors, train_priors, estimated)
    before = expected_calibration_error(posteriors.max(axis=1), posteriors.argmax(axis=1) == labels)
    after = expected_calibration_error(adjusted.max(axis=1), adjusted.argmax(axis=1) == labels)
    assert after < 0.02 < before
    assert (adjusted.argmax(axis=1) == labels).mean() > (posteriors.argmax(axis=1) == labels).mean()


def test_em_leaves_priors_alone_when_nothing_shifted() -> None:
    rng = np.random.default_rng(3)
    priors = np.array([0.5, 0.5])
    posteriors = _calibrated_posteriors(_sample(priors, 10_000, rng), priors, rng)
    estimated, _ = estimate_priors(posteriors, priors)
    assert np.abs(estimated - priors).max() < 0.02


def test_prior_shift_round_trips_and_refuses_bad_input() -> None:
    labels = ("a", "b")
    shift = fit_prior_shift(labels, training_priors(labels, ["a", "a", "a", "b"]), np.array([[0.2, 0.8], [0.3, 0.7]]))
    assert shift.training == pytest.approx((0.75, 0.25))
    assert PriorShift.from_json(shift.to_json()).labels == labels
    with pytest.raises(ValueError, match="columns"):
        estimate_priors(np.array([[0.5, 0.5]]), np.array([1 / 3, 1 / 3, 1 / 3]))
    with pytest.raises(ValueError, match="non-empty"):
        estimate_priors(np.zeros((0, 2)), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="no training labels"):
        training_priors(labels, [])


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("业委会选举有人代填选票、冒签，唱票不公开，要求重新选举", "owners_committee_election_irregularity"),
        ("物业公司长期不作为，请住建部门监管、约谈物业", "property_service_regulation"),
        ("举报有人挪用维修资金，请房管局追回维修资金", "maintenance_fund_misappropriation"),
    ],
)
def test_supervision_matters_go_to_the_street_office(catalog: Catalog, text: str, entry_id: str) -> None:
    entry = catalog.get(entry_id)
    assert entry.party == "street_office"
    assert entry_id in [match.id for match, _ in catalog.match(text, limit=3)]


def test_train_and_eval_cli_estimate_the_deployments_priors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train_file = write_jsonl(tmp_path / "train.jsonl", [{"text": i.text, "label": i.label} for i in corpus()])
    water = [i for i in corpus(["滨江花园", "北大街", "南湖路"]) if i.label == "water_affairs"]
    traffic = [i for i in corpus(["滨江花园"]) if i.label == "traffic"][:1]
    recent = write_jsonl(tmp_path / "recent.jsonl", [{"text": i.text} for i in [*water, *traffic]])
    out = tmp_path / "model"
    command = ["train", "routing", "--data", str(train_file), "--out", str(out), "--no-embeddings", "--no-words"]
    assert main([*command, "--prior-shift", str(recent)]) == 0
    shift = read_manifest(out).prior_shift
    assert shift is not None
    estimated = dict(zip(shift.labels, shift.estimated, strict=True))
    assert estimated["water_affairs"] > 0.7 > dict(zip(shift.labels, shift.training, strict=True))["water_affairs"]
    assert load_model(out).prior_shift == shift
    test_file = write_jsonl(tmp_path / "test.jsonl", [{"text": i.text, "label": i.label} for i in water])
    capsys.readouterr()
    assert main(["eval", "routing", "--test", str(test_file), "--model", str(out), "--prior-shift"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["prior_shift"]["estimated"]["water_affairs"] > 0.9


def test_routing_info_shows_the_estimated_priors_or_that_there_are_none() -> None:
    from linli.v1 import routing_pb2
    from services.cli.admin_commands import describe_model

    shifted = routing_pb2.ModelInfo(labels=["a", "b"], estimated_priors={"a": 0.9, "b": 0.1})
    assert "estimated priors: a 0.900, b 0.100" in describe_model(shifted)
    assert "training priors (no prior shift)" in describe_model(routing_pb2.ModelInfo(labels=["a", "b"]))
