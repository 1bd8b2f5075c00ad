#!/usr/bin/env python3
"""clang-tidy over the files of a compile database, with a result cache.

A file's result is kept under a key made of everything that can change it: clang-tidy's version,
every .clang-tidy in the tree, the file's compile flags and its preprocessed text (so any header
it includes counts). Paths of the checkout are replaced before hashing, so a fresh clone in
another folder reuses the results. A cached result is replayed as it was, warnings included.

Usage: tidy_cached.py BUILD_DIR CACHE_DIR JOBS PATH... (prints clang-tidy's output, one block per
file, and exits 0; scripts/tidy.sh decides what counts as a warning).
"""
import concurrent.futures
import hashlib
import json
import os
import pathlib
import shlex
import subprocess
import sys


def tidy_config_text(root):
    parts = []
    for path in sorted(root.rglob(".clang-tidy")):
        if "build" in path.relative_to(root).parts or "node_modules" in path.parts:
            continue
        parts.append(str(path.relative_to(root)) + "\n" + path.read_text())
    return "\n".join(parts)


def preprocess_command(entry):
    """The entry's compile command, changed to print the preprocessed text without line markers."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("-o", "-c"):
            skip = arg == "-o"
            continue
        out.append(arg)
    return out + ["-E", "-P"]


def key_for(entry, root, salt):
    proc = subprocess.run(preprocess_command(entry), cwd=entry["directory"], capture_output=True, check=False)
    if proc.returncode != 0:
        return None  # clang-tidy will say what is wrong
    text = proc.stdout.replace(str(root).encode(), b"@ROOT@")
    flags = entry.get("command", " ".join(entry.get("arguments", []))).replace(str(root), "@ROOT@")
    digest = hashlib.sha256()
    for part in (salt.encode(), flags.encode(), entry["file"].replace(str(root), "@ROOT@").encode(), text):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def run_one(entry, build_dir, cache_dir, root, salt):
    key = key_for(entry, root, salt)
    cached = cache_dir / key[:2] / key if key else None
    if cached is not None and cached.exists():
        return entry["file"], cached.read_text().replace("@ROOT@", str(root)), True
    proc = subprocess.run(["clang-tidy", "-quiet", "-p", str(build_dir), entry["file"]], capture_output=True,
                          text=True, check=False)
    output = proc.stdout
    if cached is not None and proc.returncode in (0, 1):
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp%d" % os.getpid())
        tmp.write_text(output.replace(str(root), "@ROOT@"))
        tmp.replace(cached)
    return entry["file"], output, False


def main():
    build_dir, cache_dir, jobs = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2]), int(sys.argv[3])
    root = pathlib.Path.cwd().resolve()
    wanted = [str((root / p).resolve()) for p in sys.argv[4:]]
    entries = [e for e in json.loads((build_dir / "compile_commands.json").read_text())
               if any(e["file"].startswith(w) for w in wanted)]
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True, check=True).stdout
    salt = version + tidy_config_text(root)
    hits = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for _, output, hit in pool.map(lambda e: run_one(e, build_dir, cache_dir, root, salt), entries):
            hits += hit
            sys.stdout.write(output)
    print("tidy-cache: %d files, %d from the cache (%s)" % (len(entries), hits, cache_dir), file=sys.stderr)


if __name__ == "__main__":
    main()
