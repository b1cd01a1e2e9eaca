"""Train one run: `python -m laser.main --config <file>:<profile>[,key=value] --workdir <dir>
[--hparams-from <sweep>/best.json] [--coordinator HOST:PORT --num-processes N --process-id I]
[--config.key=value ...]`.

`--hparams-from` applies the overrides of a sweep's best trial (sweeps/run.py writes best.json),
except the seed; explicit `--config.` overrides still win.

A bad config file, profile, key or value prints one line naming it and what is accepted, and
exits with status 2 before anything is written. A workdir that holds a checkpoint resumes; it
may be a local path or a URI such as gs://bucket/run (etils.epath).

Multi-process: under srun with several tasks, mpirun, or on a Cloud TPU VM, JAX's runtime starts
by itself; anywhere else give every process the three flags (laser/train/distributed.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from laser import configs


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m laser.main", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", required=True, help="<file>.py:<profile>[,key=value,...]")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--hparams-from", default=None, help="a sweep's best.json")
    parser.add_argument("--coordinator", default=None, help="HOST:PORT of process 0")
    parser.add_argument("--num-processes", default=None)
    parser.add_argument("--process-id", default=None)
    args, rest = parser.parse_known_args(argv)
    args.num_processes = _integer("--num-processes", args.num_processes)
    args.process_id = _integer("--process-id", args.process_id)
    overrides = []
    for item in rest:
        if not item.startswith("--config."):
            raise configs.ConfigError(
                f"argument {item!r}: accepted: --config.<key>=<value> overrides"
            )
        overrides.append(item[len("--config.") :])
    if args.hparams_from:
        overrides = best_overrides(args.hparams_from) + overrides
    return args, overrides


def _integer(flag: str, raw: str | None) -> int | None:
    try:
        return None if raw is None else int(raw)
    except ValueError:
        raise configs.ConfigError(f"{flag} {raw!r}: accepted: an integer") from None


def best_overrides(path: str) -> list[str]:
    """key=value overrides of the best trial recorded in a sweep's best.json (seed excluded)."""
    return [f"{k}={v}" for k, v in best_trial_overrides(path)]


def best_trial_overrides(
    path: str, given: str = "", accepted: str = "a sweep's best.json"
) -> list[tuple[str, object]]:
    """(key, value) overrides of the best trial of a sweep's best.json (sweeps/run.py writes
    it), seed excluded, values as recorded. The one parser of best.json: `--hparams-from` here
    and sweeps that take a search's winner (sweeps/table4.py) both use it. A missing or
    unreadable file, or one without a finished best trial, is a one-line ConfigError starting
    with `given` (how the user gave the path; default "--hparams-from '<path>'")."""
    try:
        with open(path) as f:
            best = json.load(f)["best"]
        items = list(best["overrides"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        given = given or f"--hparams-from {path!r}"
        raise configs.ConfigError(
            f"{given}: accepted: {accepted} with a finished best trial"
        ) from None
    return [(k, v) for k, v in items if k != "train.seed"]


def main(argv: list[str] | None = None) -> int:
    try:
        args, overrides = parse(sys.argv[1:] if argv is None else argv)
        from laser.train import distributed

        distributed.check_args(args.coordinator, args.num_processes, args.process_id)
        config = configs.load(args.config, overrides)
        # Before anything initialises a JAX backend (validate asks for the process count).
        distributed.initialize(args.coordinator, args.num_processes, args.process_id)
        from laser.train.trainer import train_and_evaluate, validate

        validate(config)
        result = train_and_evaluate(config, args.workdir)
    except configs.ConfigError as e:  # also a workdir of another config, or not shared
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if result["status"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
