"""Generate the Python code for protos/ into shared/src (or check that it is current).

One generator for `make proto` and `make proto-check`, so the check can never
disagree with what `make proto` would write.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
TARGET = ROOT / "shared" / "src" / "cityops"


def generate(out_root: Path) -> None:
    """Run protoc (with mypy stubs) for every proto into out_root/cityops."""
    # protoc finds the mypy plugins beside this interpreter (the project venv).
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for folder in [
        out_root / "cityops",
        *(p for p in (out_root / "cityops").rglob("*") if p.is_dir()),
    ]:
        (folder / "__init__.py").touch()
    (out_root / "cityops" / "py.typed").touch()


def differences(left: Path, right: Path) -> list[str]:
    cmp = filecmp.dircmp(left, right)
    found = [f"only in {cmp.left}: {n}" for n in cmp.left_only]
    found += [f"only in {cmp.right}: {n}" for n in cmp.right_only]
    found += [f"differs: {Path(cmp.left) / n}" for n in cmp.diff_files]
    for sub in cmp.common_dirs:
        if sub != "__pycache__":
            found += differences(left / sub, right / sub)
    return [f for f in found if "__pycache__" not in f]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            stale = differences(Path(tmp) / "cityops", TARGET)
        if stale:
            print("generated protobuf code is stale; run `make proto`:", *stale, sep="\n  ")
            return 1
        print("generated protobuf code is current")
        return 0
    shutil.rmtree(TARGET, ignore_errors=True)
    generate(TARGET.parent)
    print(f"generated {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
