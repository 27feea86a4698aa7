#!/usr/bin/env python3
"""Checks that Cargo.toml's rust-version is true for the locked dependencies:
no package in the lock file (all features, every platform) declares a newer
rust-version than the crate itself. Exits 1 with the offenders otherwise."""
import json
import subprocess
import sys


def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
ours = next(p for p in meta["packages"] if p["id"] in meta["workspace_members"])
declared = version(ours["rust_version"])
newer = [
    f"{p['name']} {p['version']} needs {p['rust_version']}"
    for p in meta["packages"]
    if p.get("rust_version") and version(p["rust_version"]) > declared
]
if newer:
    print(f"rust-version {ours['rust_version']} is below what the lock needs:", file=sys.stderr)
    for n in newer:
        print(f"  {n}", file=sys.stderr)
    sys.exit(1)
print(f"rust-version {ours['rust_version']} covers every locked dependency")
