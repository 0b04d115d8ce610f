"""The int8 ONNX backend built from the real model: agrees with torch, truncates alike, exports once, caches safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from linli.embedding import backends as embedder_module
from linli.embedding import model_fingerprint
from linli.embedding.backends import (
    EXPORT_RECIPE,
    QUANTISED_FILE,
    RECIPE_KEY,
    SOURCE_KEY,
    OnnxInt8Embedder,
    SentenceTransformerEmbedder,
    create_embedder,
    quantised_model_file,
)
from services.retrieval.settings import RetrievalSettings

TEXTS = [
    "3号楼楼道的灯坏了好几天了,晚上上下楼黑漆漆的",
    "楼上卫生间漏水,我家天花板都发霉了",
    "小区消防通道天天被私家车堵着",
    "业委会换届选举一直拖着不办",
    "长者食堂的饭菜太咸了",
]
# Far past 256 tokens: only its beginning may count, in both backends alike.
LONG_TEXT = "电梯困人了,物业半小时才来。" * 60 + "结尾这句话在截断之后,不应改变向量"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable model folder: the real m3e-small's files, linked, so the export lands in this test's folder."""
    source = RetrievalSettings().resolved_model_path()
    folder = tmp_path_factory.mktemp("models") / source.name
    folder.mkdir()
    for item in source.iterdir():
        if item.is_file():
            (folder / item.name).symlink_to(item)
    return folder


@pytest.fixture(scope="module")
def fast(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> OnnxInt8Embedder:
    return OnnxInt8Embedder(model_dir, cache_dir=tmp_path_factory.mktemp("cache"))


def test_int8_vectors_agree_with_torch(fast: OnnxInt8Embedder, embedder: SentenceTransformerEmbedder) -> None:
    texts = [*TEXTS, LONG_TEXT]
    fast_vectors, torch_vectors = fast.embed(texts), embedder.embed(texts)

    assert fast_vectors.shape == torch_vectors.shape == (len(texts), 512)
    assert fast_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast_vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(fast_vectors * torch_vectors, axis=1)
    assert cosines.min() >= 0.99, cosines
    # Agreement is not a fluke of similar texts: each text is closest to its own torch vector.
    assert (np.argmax(fast_vectors @ torch_vectors.T, axis=1) == np.arange(len(texts))).all()


def test_long_texts_are_truncated_exactly_as_torch_truncates_them(
    fast: OnnxInt8Embedder, embedder: SentenceTransformerEmbedder
) -> None:
    assert fast.max_seq_length == embedder.max_seq_length == 256
    fast_inputs, torch_inputs = fast.tokenize([LONG_TEXT, TEXTS[0]]), embedder.tokenize([LONG_TEXT, TEXTS[0]])

    assert fast_inputs.keys() == torch_inputs.keys()
    for name, value in fast_inputs.items():
        np.testing.assert_array_equal(value, torch_inputs[name])
    assert fast_inputs["input_ids"].shape == (2, 256)
    # What lies past the cut does not matter.
    cut = fast.embed([LONG_TEXT, LONG_TEXT.replace("结尾这句话", "完全不同的一句")])
    np.testing.assert_allclose(cut[0], cut[1], atol=1e-6)


def test_a_vector_does_not_depend_on_the_texts_embedded_with_it(fast: OnnxInt8Embedder) -> None:
    alone = fast.embed([TEXTS[0]])[0]
    among_others = fast.embed([LONG_TEXT, *TEXTS])[1]
    np.testing.assert_allclose(alone, among_others, atol=1e-6)


def test_the_export_is_cached_next_to_the_model_and_reused(
    fast: OnnxInt8Embedder, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fast.model_file == model_dir / "onnx" / QUANTISED_FILE
    assert fast.model_name == f"{model_dir.name}+onnx-int8-r{EXPORT_RECIPE}"
    modified = fast.model_file.stat().st_mtime_ns

    def no_export(*args: object) -> None:
        raise AssertionError("exported again although a current file is cached")

    monkeypatch.setattr(embedder_module, "_export_quantised", no_export)
    again = OnnxInt8Embedder(model_dir, cache_dir=tmp_path)

    assert again.model_file == fast.model_file
    assert fast.model_file.stat().st_mtime_ns == modified
    assert not list(fast.model_file.parent.glob(".export-*")), "the export left its temporary folder behind"
    np.testing.assert_array_equal(again.embed(TEXTS), fast.embed(TEXTS))


def test_create_embedder_picks_the_backend_the_settings_name(fast: OnnxInt8Embedder, model_dir: Path) -> None:
    settings = RetrievalSettings(model_path=model_dir, embedding_backend="onnx-int8", max_seq_length=128)
    chosen = create_embedder(settings.embedder_config())
    assert isinstance(chosen, OnnxInt8Embedder)
    assert chosen.model_file == fast.model_file
    assert chosen.max_seq_length == 128

    assert isinstance(
        create_embedder(settings.model_copy(update={"embedding_backend": "torch"}).embedder_config()),
        SentenceTransformerEmbedder,
    )


def stamped_export(model_path: Path, target: Path, fingerprint: str) -> None:
    """A stand-in for the real export: a tiny ONNX file with the stamps a current export carries."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "stand-in",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph)
    for key, value in ((SOURCE_KEY, fingerprint), (RECIPE_KEY, EXPORT_RECIPE)):
        model.metadata_props.add(key=key, value=value)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))


def test_a_read_only_model_folder_falls_back_to_the_cache_dir(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_model = tmp_path / "m3e-small"
    fake_model.mkdir()
    (fake_model / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(embedder_module, "_export_quantised", stamped_export)
    monkeypatch.setattr(embedder_module, "_writable", lambda folder: folder != fake_model / "onnx")

    path = quantised_model_file(fake_model, tmp_path / "cache")

    assert path == tmp_path / "cache" / f"m3e-small-{model_fingerprint(fake_model)[:16]}" / QUANTISED_FILE
    assert path.is_file()
    assert not (fake_model / "onnx").exists()


def test_a_stale_or_damaged_export_is_exported_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_model = tmp_path / "m3e-small"
    (fake_model / "onnx").mkdir(parents=True)
    (fake_model / "config.json").write_text("{}", encoding="utf-8")
    cached = fake_model / "onnx" / QUANTISED_FILE
    stamped_export(fake_model, cached, "fingerprint-of-other-weights")
    exports: list[Path] = []

    def counting_export(model_path: Path, target: Path, fingerprint: str) -> None:
        exports.append(target)
        stamped_export(model_path, target, fingerprint)

    monkeypatch.setattr(embedder_module, "_export_quantised", counting_export)
    assert quantised_model_file(fake_model, tmp_path / "cache") == cached
    cached.write_bytes(b"half a file")  # e.g. copied in by hand and cut short
    assert quantised_model_file(fake_model, tmp_path / "cache") == cached
    assert quantised_model_file(fake_model, tmp_path / "cache") == cached

    assert exports == [cached, cached]


def test_no_writable_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_model = tmp_path / "m3e-small"
    fake_model.mkdir()
    (fake_model / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(embedder_module, "_writable", lambda folder: False)

    with pytest.raises(PermissionError, match="LINLI_RETRIEVAL_MODEL_CACHE_DIR"):
        quantised_model_file(fake_model, tmp_path / "cache")


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no sentence-transformers model"):
        OnnxInt8Embedder(tmp_path, cache_dir=tmp_path / "cache")


def test_thread_setting_reaches_the_session_and_leaves_the_vectors_alone(
    fast: OnnxInt8Embedder, model_dir: Path, tmp_path: Path
) -> None:
    settings = RetrievalSettings(embedding_backend="onnx-int8", model_path=model_dir, embedding_threads=2)
    two_threads = create_embedder(settings.embedder_config())

    assert isinstance(two_threads, OnnxInt8Embedder)
    assert two_threads._session.get_session_options().intra_op_num_threads == 2
    assert fast._session.get_session_options().intra_op_num_threads == 0
    np.testing.assert_array_equal(two_threads.embed(TEXTS), fast.embed(TEXTS))
