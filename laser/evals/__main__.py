"""One-shot downstream evaluation of any causal-LM checkpoint.

    python -m laser.evals --checkpoint <workdir> [--step N] --tasks a,b|all [--limit N]
                          [--seed S] [--out file.json]

Prints one line per task (accuracy ± binomial standard error, summed and per-token normalised
log-likelihood, chance) and writes the full result to --out if given. An unknown task name or
step prints the accepted ones and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from laser import records
from laser.configs import ConfigError
from laser.evals import evaluate, tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m laser.evals", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--checkpoint", required=True, help="a training run's workdir")
    parser.add_argument("--step", type=int, default=None, help="default: the latest checkpoint")
    parser.add_argument(
        "--tasks", default="all", help=f"all or a list of: {', '.join(tasks.TASKS)}"
    )
    parser.add_argument(
        "--limit", type=int, default=evaluate.TINY_LIMIT, help="examples per task (0: all)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    try:
        names = tasks.parse(args.tasks)
        result = evaluate.evaluate(args.checkpoint, args.step, names, args.limit, args.seed)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"step {result['step']}, up to {args.limit or 'all'} examples per task, one shot")
    for name, r in result["tasks"].items():
        s, n = r["sum"], r["per_token"]
        print(
            f"{name:18s} acc {100 * s['accuracy']:5.1f} ± {100 * s['stderr']:4.1f}  "
            f"per-token {100 * n['accuracy']:5.1f} ± {100 * n['stderr']:4.1f}  "
            f"chance {100 * r['chance']['uniform']:4.1f}  (n={s['n']}, ties {s['ties']})"
        )
    if args.out:
        records.write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
