"""`linli index snapshot|reload` and `linli routing reload|info` against real retrieval and routing servers.

The servers run in this process on free ports with hash vectors (tests/unit/fakes.py): these tests are about the
commands, their tokens and their errors, not about meaning. Each command runs through `linli`'s own `main`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from linli.catalog import load_catalog
from linli.grpc_serving import ServerHandle
from linli.settings import ProcessSettings
from services.cli.main import main as linli
from services.retrieval.server import RetrievalDeps, RetrievalServer
from services.retrieval.server import create_server as create_retrieval
from services.routing.learning.data import LabelledText
from services.routing.learning.features import EmbedderEncoder, FeatureConfig
from services.routing.learning.model_dir import read_manifest, save_model
from services.routing.learning.training import TrainingConfig, train
from services.routing.model_holder import model_version
from services.routing.server import create_server as create_routing
from services.routing.signals import RoutingTrainingSignals
from tests.local_servers import retrieval_settings, routing_settings
from tests.tokens import worker_token
from tests.unit.fakes import HashEmbedder

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[2] / "services" / "retrieval" / "corpus" / "starter_cases.jsonl"
HASH_EMBEDDER = HashEmbedder(dimension=32, name="hash-embedder")
READY_SECONDS = 60.0
ADMIN_CREDENTIAL_VARIABLE = "LINLI_AUTH_ADMIN_TOKEN"


@dataclass(frozen=True)
class Ran:
    """What one `linli ...` run returned and printed."""

    code: int
    out: str
    err: str


Runner = Callable[..., Ran]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Runs `linli` with the given arguments in this process; the environment is the test's."""

    def run_linli(*argv: str) -> Ran:
        capsys.readouterr()  # drop what earlier steps printed
        code = linli(list(argv))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run_linli


def labelled(rows: list[str]) -> list[LabelledText]:
    return [LabelledText(json.loads(row)["complaint"], json.loads(row)["party"]) for row in rows]


def train_model(directory: Path, rows: list[str]) -> str:
    """Trains a small routing model over hash vectors into `directory`; returns its version."""
    model = train(
        labelled(rows),
        config=TrainingConfig(features=FeatureConfig(word_ngrams=None), folds=3),
        encoder=EmbedderEncoder(HASH_EMBEDDER),
        signals=RoutingTrainingSignals(load_catalog()),
    )
    return model_version(save_model(model, directory))


@pytest.fixture(scope="module")
def rows() -> list[str]:
    return CORPUS.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def retrieval(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RetrievalServer]:
    """Retrieval seeded with the starter corpus; snapshots only when asked."""
    settings = retrieval_settings(tmp_path_factory.mktemp("index"), CORPUS)
    server = create_retrieval(
        settings, RetrievalDeps(embedder=HASH_EMBEDDER), process=ProcessSettings.from_environment()
    )
    assert server.handle.wait_ready(READY_SECONDS), server.handle.load_error
    yield server
    server.stop(0)


@pytest.fixture(scope="module")
def first_model(rows: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("first-model") / "routing"
    train_model(directory, rows[:100])
    return directory


@pytest.fixture
def routing(retrieval: RetrievalServer, first_model: Path, tmp_path: Path) -> Iterator[tuple[ServerHandle, Path]]:
    """Routing serving a copy of the first model; it reloads only on ReloadModel. Yields it and its model folder."""
    model_dir = tmp_path / "routing"
    shutil.copytree(first_model, model_dir)
    settings = routing_settings(retrieval.handle.port, model_dir)
    handle = create_routing(settings, process=ProcessSettings.from_environment())
    assert handle.wait_ready(READY_SECONDS), handle.load_error
    yield handle, model_dir
    handle.stop(0)


def target_of(handle: ServerHandle) -> str:
    return f"127.0.0.1:{handle.port}"


def test_index_snapshot_and_reload_with_an_admin_token(
    retrieval: RetrievalServer, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_CREDENTIAL_VARIABLE, worker_token("a-1", "street_office", role="admin"))
    target = target_of(retrieval.handle)
    snapshot = run("index", "snapshot", "--target", target)
    assert snapshot.code == 0, snapshot.err
    name = snapshot.out.split()[1]
    assert snapshot.out == f"snapshot {name} written: 120 cases\n"
    assert (retrieval.settings.index_dir / "snapshots" / name / "manifest.json").is_file()

    reload = run("index", "reload", "--target", target)
    assert reload.code == 0, reload.err
    assert reload.out.startswith(f"index reloaded from snapshot {name}")
    assert reload.out.endswith(": 120 cases searchable\n")
    as_json = run("index", "reload", "--target", target, "--json")
    reply = json.loads(as_json.out)
    assert reply["case_count"] == "120"  # int64 is a string in proto JSON
    assert reply["snapshot"] == name  # it was loaded from the snapshot, not rebuilt


def test_without_an_admin_token_a_service_token_is_signed_with_the_key(
    retrieval: RetrievalServer, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(
        ADMIN_CREDENTIAL_VARIABLE, raising=False
    )  # LINLI_AUTH_SECRETS is the servers' key (tests/conftest.py)
    ran = run("index", "snapshot", "--target", target_of(retrieval.handle))
    assert ran.code == 0, ran.err
    assert ran.out.startswith("snapshot ")


def test_a_plain_workers_token_is_refused_with_permission_denied(
    retrieval: RetrievalServer, routing: tuple[ServerHandle, Path], run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        ADMIN_CREDENTIAL_VARIABLE, worker_token("w-7", "property_manager", "恒康居民区", role="dispatcher")
    )
    for command, handle in (("index", retrieval.handle), ("routing", routing[0])):
        for action in ("reload", "snapshot") if command == "index" else ("reload",):
            ran = run(command, action, "--target", target_of(handle))
            assert ran.code == 1, ran
            assert ran.out == ""
            line = f"linli {command} {action} ({target_of(handle)}): PERMISSION_DENIED: "
            assert ran.err.startswith(line), ran.err
            assert "needs an admin worker's or a service's token" in ran.err
            assert ran.err.endswith("(sent the token of LINLI_AUTH_ADMIN_TOKEN)\n")
            assert ran.err.count("\n") == 1


def test_a_forged_token_is_unauthenticated(
    retrieval: RetrievalServer, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_CREDENTIAL_VARIABLE, "forged.token")
    ran = run("index", "reload", "--target", target_of(retrieval.handle))
    assert ran.code == 1
    assert ": UNAUTHENTICATED: " in ran.err


def test_without_token_or_key_every_command_says_what_to_set(
    routing: tuple[ServerHandle, Path], run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADMIN_CREDENTIAL_VARIABLE, raising=False)
    monkeypatch.delenv("LINLI_AUTH_SECRETS")
    target = target_of(routing[0])
    ran = run("routing", "reload", "--target", target)
    assert ran.code == 2
    assert ran.err.startswith("linli routing reload: no admin credentials: set LINLI_AUTH_ADMIN_TOKEN")
    assert "LINLI_AUTH_SECRETS" in ran.err
    info = run("routing", "info", "--target", target)  # a read needs a service's or an admin's token too
    assert info.code == 2
    assert info.err.startswith("linli routing info: no admin credentials: set LINLI_AUTH_ADMIN_TOKEN")


def test_routing_reload_swaps_the_model(
    routing: tuple[ServerHandle, Path], rows: list[str], run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_CREDENTIAL_VARIABLE, worker_token("a-1", "street_office", role="admin"))
    handle, model_dir = routing
    target = target_of(handle)
    before = run("routing", "info", "--target", target, "--json")
    first_version = json.loads(before.out)["model"]["version"]
    assert first_version == model_version(read_manifest(model_dir))

    second_version = train_model(model_dir, rows[20:])  # other data: another checksum, another version
    assert second_version != first_version
    still = run("routing", "info", "--target", target)
    assert f"version: {first_version}\n" in still.out  # no watcher: the new folder waits for ReloadModel

    swapped = run("routing", "reload", "--target", target)
    assert swapped.code == 0, swapped.err
    assert swapped.out.startswith("switched to the model directory's new model\n")
    assert f"version: {second_version}\n" in swapped.out
    after = run("routing", "info", "--target", target, "--json")
    assert json.loads(after.out)["model"]["version"] == second_version

    again = run("routing", "reload", "--target", target, "--json")
    assert json.loads(again.out)["changed"] is False


def test_a_bad_model_is_refused_with_its_code_and_the_running_one_stays(
    routing: tuple[ServerHandle, Path], run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_CREDENTIAL_VARIABLE, worker_token("a-1", "street_office", role="admin"))
    handle, model_dir = routing
    target = target_of(handle)
    version = model_version(read_manifest(model_dir))
    manifest = model_dir / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["embedding"] = {"model": "another-model", "dimension": 768}
    data["created_at"] = "2099-01-01T00:00:00+00:00"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    ran = run("routing", "reload", "--target", target)
    assert ran.code == 1
    assert ran.err.startswith(f"linli routing reload ({target}): FAILED_PRECONDITION: ")
    assert "another-model" in ran.err
    assert f"version: {version}\n" in run("routing", "info", "--target", target).out


def test_the_channel_follows_the_tls_settings(
    retrieval: RetrievalServer, run: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ADMIN_CREDENTIAL_VARIABLE, worker_token("a-1", "street_office", role="admin"))
    target = target_of(retrieval.handle)
    monkeypatch.setenv("LINLI_GRPC_TLS_ENABLED", "true")  # the server speaks plaintext: the handshake fails
    ran = run("index", "snapshot", "--target", target, "--timeout", "5")
    assert ran.code == 1
    assert f"({target}): UNAVAILABLE: " in ran.err
    monkeypatch.setenv("LINLI_GRPC_TLS_CA_FILE", str(tmp_path / "missing-ca.pem"))
    ran = run("index", "snapshot", "--target", target)
    assert ran.code == 2
    assert ran.err == f"linli index snapshot: LINLI_GRPC_TLS_CA_FILE: cannot read {tmp_path / 'missing-ca.pem'}: " + (
        "No such file or directory\n"
    )


def test_an_unreachable_server_is_one_line_and_exit_1(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADMIN_CREDENTIAL_VARIABLE, worker_token("a-1", "street_office", role="admin"))
    ran = run("routing", "info", "--target", "127.0.0.1:1", "--timeout", "5")
    assert ran.code == 1
    assert ran.err.startswith("linli routing info (127.0.0.1:1): UNAVAILABLE: ")
    assert ran.err.count("\n") == 1
