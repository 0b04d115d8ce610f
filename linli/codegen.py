"""Generates the Python code for protos/linli/v1 so that it mirrors the proto package (no import rewriting)."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = PROJECT_ROOT / "protos"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files(proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Returns the contract's proto files, sorted so generation is deterministic."""
    return sorted((proto_root / "linli" / "v1").glob("*.proto"))


def generate(out_dir: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Writes `*_pb2.py`, `*_pb2.pyi` and `*_pb2_grpc.py` for every proto under `out_dir/linli/v1`.

    Returns:
        The generated files.
    """
    well_known = resources.files("grpc_tools") / "_proto"
    files = [str(path.relative_to(proto_root)) for path in proto_files(proto_root)]
    args = [
        "grpc_tools.protoc",
        f"--proto_path={proto_root}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {files}")
    target = out_dir / "linli" / "v1"
    return sorted(path for path in target.iterdir() if path.name.endswith(GENERATED_SUFFIXES))


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m linli.codegen [--out DIR]`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT, help="folder that receives linli/v1/")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        sys.stdout.write(f"generated {path.relative_to(args.out)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
