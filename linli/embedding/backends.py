"""Sentence embedders behind one small interface: torch fp32, or an int8 ONNX Runtime fast path exported once."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from linli.embedding.fingerprint import model_fingerprint
from linli.embedding.protocol import Embedder, Vectors

if TYPE_CHECKING:
    from linli.embedding.config import EmbedderConfig

logger = logging.getLogger(__name__)


def create_embedder(config: EmbedderConfig) -> Embedder:
    """The embedder `config.backend` names (`LINLI_RETRIEVAL_EMBEDDING_BACKEND`), for the configured model folder."""
    model_path = config.resolved_model_path()
    if config.backend == "onnx-int8":
        return OnnxInt8Embedder(
            model_path, cache_dir=config.cache_dir, max_seq_length=config.max_seq_length, threads=config.threads
        )
    return SentenceTransformerEmbedder(model_path, max_seq_length=config.max_seq_length)


def _load_sentence_transformer(model_path: Path, **kwargs: Any) -> Any:
    # Weights come from the local folder only; a hub download would fail offline anyway, and fail slowly.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer  # heavy import, paid only by processes that embed

    if not (model_path / "config.json").is_file():
        raise FileNotFoundError(f"no sentence-transformers model in {model_path}")
    return SentenceTransformer(str(model_path), device="cpu", **kwargs)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, run on the CPU with torch (fp32).

    Texts longer than `max_seq_length` tokens are truncated (the tokenizer keeps the first tokens): a complaint's
    first few hundred characters carry its subject, and mean pooling over a longer window dilutes it.
    """

    def __init__(self, model_path: Path, *, max_seq_length: int = 256, batch_size: int = 32) -> None:
        self._model = _load_sentence_transformer(model_path)
        self._model.max_seq_length = min(max_seq_length, self._model.max_seq_length or max_seq_length)
        self._batch_size = batch_size
        self._dimension = int(self._model.get_embedding_dimension() or 0)
        self._name = model_path.name
        # torch already uses every core for one batch; concurrent encodes would only thrash.
        self._lock = threading.Lock()
        logger.info("loaded embedding model", extra={"model": self._name, "dimension": self._dimension})

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        """Tokens kept per text."""
        return int(self._model.max_seq_length)

    def tokenize(self, texts: list[str]) -> dict[str, npt.NDArray[np.int64]]:
        """The model inputs sentence-transformers builds for `texts` (padded to the longest, truncated)."""
        features = self._model.preprocess(texts)
        return {name: value.numpy().astype(np.int64) for name, value in features.items() if name != "modality"}

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


# The CPU this runs on has avx512_vnni (int8 dot products in one instruction); ORT picks its kernels at run time,
# so the same file also runs, more slowly, on a CPU without it.
QUANTISATION = "avx512_vnni"
QUANTISED_FILE = f"model_qint8_{QUANTISATION}.onnx"
# Stamped into the exported file: a file from other weights or an older export recipe is exported again.
EXPORT_RECIPE = "1"
SOURCE_KEY = "linli.source_fingerprint"
RECIPE_KEY = "linli.export_recipe"
ONNX_OPSET = 17


class OnnxInt8Embedder:
    """The same sentence-transformers model with int8 weights, run by ONNX Runtime: the CPU fast path.

    The quantised graph is exported once and cached as `<model>/onnx/model_qint8_avx512_vnni.onnx`, or under
    `cache_dir` when the model folder is read-only (see `quantised_model_file`). The graph holds the whole
    pipeline (transformer, pooling, L2 normalisation), so only tokenisation happens here, and it is the model's own
    tokenizer with the arguments sentence-transformers uses: right padding, truncation to `max_seq_length` tokens
    (the first tokens are kept), so a long text is cut exactly where the torch backend cuts it.

    Its vectors agree with the torch backend's to a cosine of about 0.997, not exactly, so `model_name` carries the
    backend: an index never mixes the two (docs/adr/0003-int8-embedding-fast-path.md).

    Args:
        model_path: Folder of the sentence-transformers model.
        cache_dir: Where the export goes when the model folder is not writable.
        max_seq_length: Tokens kept per text.
        texts_per_run: Texts per ONNX Runtime call. 1 (the default) runs each text alone, unpadded: its vector is
            then the same whatever texts share its Embed call or micro-batch. With more, the activations' int8
            scale is computed over the whole sub-batch, padding included, so a vector moves with its companions
            (cosine ~0.997 to itself alone), and on this 2-core CPU it was not faster.
        threads: ONNX Runtime's threads for one call; 0 means one per core.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        cache_dir: Path,
        max_seq_length: int = 256,
        texts_per_run: int = 1,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]  # heavy: paid only by processes that embed
        from transformers import AutoTokenizer

        if not (model_path / "config.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {model_path}")
        self.model_file = quantised_model_file(model_path, cache_dir)
        self._tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        # The cap sentence-transformers applies too: the setting, the tokenizer's limit, the position table.
        positions = json.loads((model_path / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
        self._max_seq_length = min(max_seq_length, int(self._tokenizer.model_max_length), int(positions or 1 << 30))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per core
        # Idle pool threads would otherwise spin for a while after every batch, taking CPU from the gRPC threads.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        self._input_names = [node.name for node in self._session.get_inputs()]
        self._dimension = int(self._session.get_outputs()[0].shape[-1])
        self._texts_per_run = texts_per_run
        # The recipe is part of the name: a changed recipe changes the vectors, and stored cases get re-embedded.
        self._name = f"{model_path.name}+onnx-int8-r{EXPORT_RECIPE}"
        self._lock = threading.Lock()
        logger.info(
            "loaded embedding model",
            extra={"model": self._name, "dimension": self._dimension, "file": str(self.model_file)},
        )

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        """Tokens kept per text."""
        return self._max_seq_length

    @property
    def texts_per_run(self) -> int:
        """Texts per ONNX Runtime call: at 1, a batch of texts costs exactly as much as the texts one by one."""
        return self._texts_per_run

    def tokenize(self, texts: list[str]) -> dict[str, npt.NDArray[np.int64]]:
        """The model inputs for `texts`, padded to the longest: what sentence-transformers feeds its model."""
        encoded = self._tokenizer(
            texts, padding=True, truncation="longest_first", max_length=self._max_seq_length, return_tensors="np"
        )
        return {name: np.asarray(encoded[name], dtype=np.int64) for name in self._input_names}

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = np.empty((len(texts), self._dimension), dtype=np.float32)
        # Texts of similar length share a sub-batch, so little of each matrix product is spent on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock:  # ORT already uses every core for one call; concurrent calls would only thrash.
            for start in range(0, len(order), self._texts_per_run):
                rows = order[start : start + self._texts_per_run]
                (output,) = self._session.run(None, self.tokenize([texts[i] for i in rows]))
                vectors[rows] = output
        return vectors


def quantised_model_file(model_path: Path, cache_dir: Path) -> Path:
    """The int8 ONNX file of the model in `model_path`, exported now if no current one exists.

    Looked for, and exported if missing or stale, in `<model>/onnx/` and, when that folder cannot be written
    (a read-only image), in `<cache_dir>/<model>-<fingerprint>/`. Each export writes into a temporary folder
    beside its target and renames the finished file into place, so processes starting together never see a
    half-written file; at worst both export and the last rename wins with an identical file.
    """
    fingerprint = model_fingerprint(model_path)
    folders = [model_path / "onnx", cache_dir / f"{model_path.name}-{fingerprint[:16]}"]
    for folder in folders:
        if _is_current(folder / QUANTISED_FILE, fingerprint):
            return folder / QUANTISED_FILE
    for folder in folders:
        if _writable(folder):
            _export_quantised(model_path, folder / QUANTISED_FILE, fingerprint)
            return folder / QUANTISED_FILE
        logger.info("cannot write the int8 model here; trying the next folder", extra={"folder": str(folder)})
    raise PermissionError(
        f"cannot cache the int8 model: neither {folders[0]} nor {folders[1]} is writable "
        "(set LINLI_RETRIEVAL_MODEL_CACHE_DIR to a writable folder)"
    )


def _is_current(path: Path, fingerprint: str) -> bool:
    import onnx

    if not path.is_file():
        return False
    try:
        stamps = {entry.key: entry.value for entry in onnx.load(str(path), load_external_data=False).metadata_props}
    except Exception:  # a damaged file is exported again, not trusted
        logger.warning("unreadable int8 model; exporting it again", extra={"file": str(path)})
        return False
    return stamps.get(SOURCE_KEY) == fingerprint and stamps.get(RECIPE_KEY) == EXPORT_RECIPE


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _export_quantised(model_path: Path, target: Path, fingerprint: str) -> None:
    """Exports fp32 ONNX, fuses BERT's operators, quantises weights to int8, stamps and renames into `target`."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    logger.info("exporting the int8 embedding model (once)", extra={"target": str(target)})
    workdir = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        fp32, fused, quantised = workdir / "model.onnx", workdir / "fused.onnx", workdir / QUANTISED_FILE
        _export_fp32(model_path, fp32)
        _fuse_operators(fp32, fused, model_path)
        # Per-channel weight scales keep the int8 vectors within ~0.003 cosine of fp32 (per-tensor: ~0.01).
        with _quiet_root_logger():
            quantize_dynamic(
                fused,
                quantised,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=False,  # VNNI has no 7-bit overflow problem, unlike plain AVX2/AVX512
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops carry no inferred types
            )
        model = onnx.load(str(quantised))
        for key, value in ((SOURCE_KEY, fingerprint), (RECIPE_KEY, EXPORT_RECIPE)):
            model.metadata_props.add(key=key, value=value)
        onnx.save(model, str(quantised))
        with quantised.open("rb") as stream:
            os.fsync(stream.fileno())
        os.replace(quantised, target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drops the lines ORT's quantiser logs on the root logger (one per tensor, and advice) while it runs.

    A filter on the root logger sees only records logged on it directly, so the service's own logs pass.
    """

    def keep(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _export_fp32(model_path: Path, target: Path) -> None:
    """Traces the sentence-transformers pipeline plus L2 normalisation into an ONNX graph with dynamic shapes."""
    import torch

    # Eager attention traces into the MatMul/Softmax pattern ORT's BERT fusion recognises; SDPA does not.
    model = _load_sentence_transformer(model_path, model_kwargs={"attn_implementation": "eager"}).eval()
    example = model.tokenizer(
        ["楼道灯坏了", "电梯坏了好几天,老人上下楼很不方便"], padding=True, truncation=True, return_tensors="pt"
    )
    input_names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in example]

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            features = self.model({"modality": "text", **dict(zip(input_names, inputs, strict=True))})
            return torch.nn.functional.normalize(features["sentence_embedding"], p=2.0, dim=1)

    axes = {name: {0: "batch", 1: "tokens"} for name in input_names}
    # The tracer warns about each Python branch it freezes; those here hold for any batch and length (the tests
    # compare long and short, single and batched texts with torch).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pipeline(),
            tuple(example[name] for name in input_names),
            str(target),
            dynamo=False,  # the TorchScript exporter needs no onnxscript and gives the graph ORT's fusions expect
            opset_version=ONNX_OPSET,
            input_names=input_names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
        )


def _fuse_operators(source: Path, target: Path, model_path: Path) -> None:
    """Fuses attention, layer norms and GELU into ORT's contrib operators (BERT-family models only)."""
    from onnxruntime.transformers.optimizer import optimize_model  # type: ignore[import-untyped]

    config = json.loads((model_path / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") not in {"bert", "roberta", "xlm-roberta"}:
        shutil.copyfile(source, target)  # unfused still quantises and runs; only slower
        return
    fused = optimize_model(
        str(source),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        opt_level=0,  # the fusions only; ORT applies its own graph optimisations when it loads the file
    )
    fused.save_model_to_file(str(target))
