"""Train one run: `python -m laser.main --config <file>:<profile>[,key=value] --workdir <dir>
[--config.key=value ...]`.

A bad config file, profile, key or value prints one line naming it and what is accepted, and
exits with status 2 before anything is written. A workdir that holds a checkpoint resumes.
"""

from __future__ import annotations

import argparse
import sys

from laser import configs


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m laser.main", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", required=True, help="<file>.py:<profile>[,key=value,...]")
    parser.add_argument("--workdir", required=True)
    args, rest = parser.parse_known_args(argv)
    overrides = []
    for item in rest:
        if not item.startswith("--config."):
            raise configs.ConfigError(
                f"argument {item!r}: accepted: --config.<key>=<value> overrides"
            )
        overrides.append(item[len("--config.") :])
    return args, overrides


def main(argv: list[str] | None = None) -> int:
    try:
        args, overrides = parse(sys.argv[1:] if argv is None else argv)
        config = configs.load(args.config, overrides)
        from laser.train.trainer import train_and_evaluate, validate

        validate(config)
    except configs.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = train_and_evaluate(config, args.workdir)
    return 0 if result["status"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
