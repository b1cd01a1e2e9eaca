"""Run records: the only thing analysis reads.

A run's workdir holds config.json, metrics.jsonl (one JSON object per logged value: step, split,
name, value, elapsed seconds), status.json (running / done / diverged / failed, with final
metrics) and meta.json (git commit, package versions, devices). JSON files are written
atomically (temp file + rename) so a killed run never leaves half a file behind.

A workdir is a local path or any URI etils.epath understands (gs://bucket/run, s3://...):
`as_path` gives a pathlib.Path for the first (local behaviour unchanged) and an epath.Path for
the second. Object stores cannot append, so metrics.jsonl there is rewritten whole on each
append (a few MB at most for a paper run logged every 100 steps).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

# "gs://", "s3://", "memory://"...: a path that is not on the local filesystem.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

STATUSES = ("running", "done", "diverged", "failed")
_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "tensorflow-cpu")


def is_local(path: str | os.PathLike) -> bool:
    """Whether `path` is on the local filesystem (not a URI such as gs://bucket/run)."""
    return not _URI.match(os.fspath(path))


def as_path(path: str | os.PathLike):
    """A pathlib.Path for a local path, an etils.epath.Path for a URI (gs://, s3://, ...):
    both have the pathlib methods the suite uses (/, exists, read_text, mkdir, iterdir)."""
    if is_local(path):
        return Path(path)
    from etils import epath

    return epath.Path(os.fspath(path))


def resolved(path: str | os.PathLike):
    """`path` absolute: resolved if local (Orbax wants absolute paths), a URI as it is."""
    path = as_path(path)
    return path.resolve() if is_local(path) else path


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as JSON to `path` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (same-directory temp file, then rename)."""
    if not is_local(path):
        path = as_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A uniquely named temp object renamed over the target: whole or absent to readers.
        tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        tmp.write_text(text)
        tmp.replace(path)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(as_path(path).read_text())


def prepare_workdir(workdir: str | os.PathLike, config: dict[str, Any]) -> None:
    """Write config.json and meta.json into a new workdir, or check that an existing one ran
    this config (ConfigError otherwise: a resumed run must not mix two configs' records)."""
    from laser.configs import ConfigError

    workdir = as_path(workdir)
    saved = workdir / "config.json"
    if saved.exists():
        if read_json(saved) != config:
            raise ConfigError(
                f"--workdir {workdir}: holds a run of another config; accepted: an empty "
                "workdir or one with the same config"
            )
        return
    workdir.mkdir(parents=True, exist_ok=True)
    write_json(workdir / "meta.json", meta())
    write_json(saved, config)


def append_metrics(workdir: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows to metrics.jsonl, flushed and fsynced (a killed run keeps whole lines);
    on an object store (no appends) the file is rewritten whole, atomically."""
    if not is_local(workdir):
        path = as_path(workdir) / "metrics.jsonl"
        old = path.read_text() if path.exists() else ""
        write_text(path, old + "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        return
    path = Path(workdir) / "metrics.jsonl"
    with open(path, "a") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_metrics(workdir: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete rows of metrics.jsonl (a torn last line from a kill is ignored)."""
    path = as_path(workdir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def set_status(workdir: str | os.PathLike, status: str, **extra: Any) -> None:
    if status not in STATUSES:
        raise ValueError(f"status: got {status!r}; accepted: {', '.join(STATUSES)}")
    write_json(as_path(workdir) / "status.json", {"status": status, **extra})


def read_status(workdir: str | os.PathLike) -> dict[str, Any] | None:
    path = as_path(workdir) / "status.json"
    return read_json(path) if path.exists() else None


def meta() -> dict[str, Any]:
    """Where and with what a run ran."""
    import jax

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "git_commit": commit,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "process_count": jax.process_count(),
    }
