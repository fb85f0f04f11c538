"""python3 -m hostprep preflight GOAL | clean-cache [--dry-run]

preflight: exit 2 at once, with the command to run, when `make GOAL` could not set itself up here.
clean-cache: delete what prune.prune names (with --dry-run, only list it) and buildah's dangling images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path, PurePath

from . import facts, preflight, prune


def run_preflight(goal: str) -> int:
    if goal not in preflight.GOAL_BUILDS:
        print(f"error: unknown goal {goal!r} ({', '.join(preflight.GOAL_BUILDS)})", file=sys.stderr)
        return 2
    problems = preflight.refusals(facts.host(goal), goal)
    if not problems:
        return 0
    print(
        f"error: `make {goal.removesuffix('-in-cluster')}` cannot set itself up on this machine:",
        file=sys.stderr,
    )
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    return 2


def _live() -> frozenset[PurePath]:
    """Paths running processes use (executable, arguments that are paths, cwd) and mount points."""
    found: set[PurePath] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            links = [os.readlink(f"/proc/{pid}/exe"), os.readlink(f"/proc/{pid}/cwd")]
        except OSError:
            continue  # gone, or not ours to read
        for raw in [*links, *(a.decode(errors="replace") for a in args)]:
            if raw.startswith("/"):
                # The folder resolved, not the file: a venv's bin/python links to the system's.
                path = Path(raw)
                found.add(PurePath(path.parent.resolve() / path.name))
    for line in Path("/proc/mounts").read_text().splitlines():
        found.add(PurePath(line.split()[1]))
    return frozenset(found)


def _worktree_venvs() -> set[PurePath]:
    out = subprocess.run(
        ["git", "-C", str(facts.REPO), "worktree", "list", "--porcelain"],
        capture_output=True,
        text=True,
        check=False,
    )
    venvs = set()
    for line in out.stdout.splitlines():
        if line.startswith("worktree "):
            link = Path(line.removeprefix("worktree ")) / ".venv"
            if link.is_symlink():
                venvs.add(PurePath(link.resolve()))
    return venvs


def gather() -> prune.Facts:
    sys.path.insert(0, str(facts.E2E))
    from realnode import oci

    cache = facts.cache_dir()
    folders = ("bin", "venv", "realnode", "images", "images/tmp", "images/oci")
    listing = {f: sorted(os.listdir(cache / f)) if (cache / f).is_dir() else [] for f in folders}
    current = {PurePath(facts.build_dir(name, cache)) for name in facts.GO_BUILDS}
    current |= {PurePath(facts.venv_dir()), *_worktree_venvs(), *map(PurePath, oci.archive_paths(cache))}
    ages = {}
    now = time.time()
    for folder, names in listing.items():
        for name in names:
            try:
                ages[PurePath(cache / folder / name)] = now - (cache / folder / name).lstat().st_mtime
            except OSError:
                continue
    net = Path("/sys/class/net")
    bridges = set(os.listdir(net)) if net.is_dir() else set()
    bridges.add(os.environ.get("LEPTON_BRIDGE", "lepton0"))
    return prune.Facts(PurePath(cache), listing, frozenset(current), _live(), frozenset(bridges), ages)


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def clean_cache(dry_run: bool) -> int:
    doomed = prune.prune(gather())
    total = 0
    for d in doomed:
        path = Path(d.path)
        size = _size(path)
        total += size
        print(f"{'would delete' if dry_run else 'deleting'} {path} ({size / 1e9:.1f} GB): {d.why}")
        if not dry_run:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    storage = facts.cache_dir() / "images"
    if (storage / "storage").is_dir() and shutil.which("buildah"):
        command = ["buildah", "--root", str(storage / "storage"), "--runroot", str(storage / "run")]
        command += ["--storage-driver", "overlay", "rmi", "--prune"]
        if dry_run:
            print(f"would run: {' '.join(command)} (images no tag names any more)")
        else:
            subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
    print(
        f"{'would free' if dry_run else 'freed'} {total / 1e9:.1f} GB in {len(doomed)} entries",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "preflight":
        return run_preflight(argv[1])
    if argv and argv[0] == "clean-cache" and argv[1:] in ([], ["--dry-run"]):
        return clean_cache(dry_run=argv[1:] == ["--dry-run"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
