#!/usr/bin/env python3
"""Vendor the WASI WIT packages that the wharf:app world builds on into wit/deps/.

The WIT comes from the wasmtime crates the host already depends on, so the
vendored text always matches the host implementation. Re-run this script after
changing the wasmtime version in Cargo.toml; never edit wit/deps/ by hand.

    python3 scripts/vendor-wit.py          # rewrite wit/deps/
    python3 scripts/vendor-wit.py --check  # fail if wit/deps/ is stale
"""

import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPS = ROOT / "wit" / "deps"

# (crate, folder of WIT files inside that crate's source, folder under wit/deps/)
SOURCES = [
    ("wasmtime-wasi-http", "wit/deps", "."),
    ("wasmtime-wasi-config", "wit/deps/config", "config"),
    ("wasmtime-wasi-keyvalue", "wit/deps/keyvalue", "keyvalue"),
]


def crate_dirs():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    packages = json.loads(out)["packages"]
    return {p["name"]: pathlib.Path(p["manifest_path"]).parent for p in packages}


def collect(target: pathlib.Path):
    dirs = crate_dirs()
    for crate, sub, dest in SOURCES:
        if crate not in dirs:
            sys.exit(f"vendor-wit: crate {crate} is not in the dependency graph")
        (target / dest).mkdir(parents=True, exist_ok=True)
        for wit in sorted((dirs[crate] / sub).glob("*.wit")):
            shutil.copyfile(wit, target / dest / wit.name)


def main():
    check = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pathlib.Path(tmp)
        collect(fresh)
        if check:
            old = {str(p.relative_to(DEPS)): p.read_bytes() for p in DEPS.rglob("*.wit")}
            new = {str(p.relative_to(fresh)): p.read_bytes() for p in fresh.rglob("*.wit")}
            if old != new:
                sys.exit("vendor-wit: wit/deps/ is stale; run python3 scripts/vendor-wit.py")
            return
        if DEPS.exists():
            shutil.rmtree(DEPS)
        shutil.copytree(fresh, DEPS)
    print(f"vendor-wit: wrote {DEPS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
