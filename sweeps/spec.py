"""What a sweep is: trials (a config, a profile and overrides, with a stable name), a grid and a
seeded quasi-random (AlgoPerf's Halton) search, and the metric its best trial is chosen by.

A sweep file is a Python module with `sweep(profile: str) -> Sweep`; the tables that describe a
search space (Tables 8, 9) are rendered from the same objects, so the two cannot drift apart.
The analysis finds a table's runs the same way: it selects the sweep's trials by their
overrides and profile (Sweep.find) and asks sweeps.run.trial_dir where they live, so trial names
are written in one place, the sweep file.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

# Override keys the sweeps set and the analysis selects trials by (the config layout of
# laser.nn.AttentionConfig: one `model.attention` section).
ATTENTION = "model.attention.kind"
TEMPERATURE = "model.attention.temperature"
PER_DIM_SCALE = "model.attention.per_dim_scale"
QK_NORM = "model.attention.qk_norm"
SEED = "train.seed"


@dataclasses.dataclass(frozen=True)
class Trial:
    """One run: `python -m laser.main --config <config>:<profile> --config.<k>=<v> ...`."""

    name: str
    config: str  # path of an experiment's config.py
    profile: str
    overrides: tuple[tuple[str, Any], ...] = ()
    # Where the run lives, relative to the runs root; empty = "<sweep>-<profile>/<name>". Sweeps
    # that need the same run (same config, same seed) point to one workdir and share it.
    workdir: str = ""
    # Overrides whose value is another run's workdir, relative to the runs root like `workdir`
    # (e.g. the pretrained LM a fine-tuning trial starts from); the runner resolves them against
    # its --runs, so a sweep never hard-codes where runs live.
    inputs: tuple[tuple[str, str], ...] = ()

    def command(
        self, workdir: str, python: str = "python", runs: str | os.PathLike | None = None
    ) -> list[str]:
        """The trial's command line; `runs` (the runs root) is needed when it has inputs."""
        if self.inputs and runs is None:
            raise ValueError(f"trial {self.name}: its inputs are paths under the runs root")
        args = [python, "-m", "laser.main", "--config", f"{self.config}:{self.profile}"]
        args += ["--workdir", workdir]
        inputs = [(k, os.path.join(runs, path)) for k, path in self.inputs]
        return args + [f"--config.{k}={_format(v)}" for k, v in (*self.overrides, *inputs)]


@dataclasses.dataclass(frozen=True)
class Sweep:
    name: str
    trials: tuple[Trial, ...]
    metric: str = "test/loss"  # a key of status.json's "final"; lower is better
    space: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # for Tables 8/9
    description: str = ""

    def __post_init__(self):
        names = [t.name for t in self.trials]
        if len(set(names)) != len(names):
            raise ValueError(f"sweep {self.name}: trial names repeat")

    def path(self, trial: Trial, profile: str) -> str:
        """Where `trial` runs when the sweep runs at `profile`, relative to the runs root."""
        return trial.workdir or f"{self.name}-{profile}/{trial.name}"

    def select(self, where: Mapping[str, Any], model: str | None = None) -> tuple[Trial, ...]:
        """The trials whose overrides give every key of `where` its value (None: the trial does
        not override that key) and, if `model` is given, that run that config profile."""

        def matches(trial: Trial) -> bool:
            overrides = dict(trial.overrides)
            return (model is None or trial.profile == model) and all(
                overrides.get(k) == v for k, v in where.items()
            )

        return tuple(t for t in self.trials if matches(t))

    def find(self, where: Mapping[str, Any], model: str | None = None) -> Trial:
        """The one trial `select(where, model)` gives; a ValueError if none or several."""
        found = self.select(where, model)
        if len(found) != 1:
            names = ", ".join(t.name for t in found) or "none"
            raise ValueError(f"sweep {self.name}: {dict(where)} {model or ''} matches {names}")
        return found[0]


@dataclasses.dataclass(frozen=True)
class LogUniform:
    low: float
    high: float

    def at(self, x: float) -> float:  # AlgoPerf: min * exp(x * log(max / min))
        return self.low * math.exp(x * math.log(self.high / self.low))

    def describe(self) -> tuple[str, str, str]:
        return (f"{self.low:g}", f"{self.high:g}", "log")


@dataclasses.dataclass(frozen=True)
class Choice:
    points: tuple[Any, ...]

    def at(self, x: float) -> Any:  # AlgoPerf: points[floor(x * len)]
        return self.points[min(int(x * len(self.points)), len(self.points) - 1)]

    def describe(self) -> tuple[str, str, str]:
        return (
            "-",
            "-",
            ", ".join(f"{p:g}" if isinstance(p, float) else str(p) for p in self.points),
        )


def c4_tokenizer(profile: str) -> tuple[tuple[str, str], ...]:
    """The override that points paper-scale C4 runs at the user's 32k SentencePiece model
    (environment variable C4_TOKENIZER); nothing for tiny profiles or when it is unset."""
    path = os.environ.get("C4_TOKENIZER", "")
    return (("data.tokenizer_path", path),) if profile == "paper" and path else ()


def attention_by_seed(
    config: str, profile: str, prefix: str, kinds: Iterable[str], seeds: Iterable[int], extra=()
) -> tuple[Trial, ...]:
    """One LM profile trained with each attention kind x each seed: trials named
    `<prefix>-<kind>-seed<seed>`, kinds outer (the columns of Tables 6 and 7)."""
    return tuple(
        Trial(
            name=f"{prefix}-{kind}-seed{seed}",
            config=config,
            profile=profile,
            overrides=((ATTENTION, kind), (SEED, seed), *extra),
        )
        for kind in kinds
        for seed in seeds
    )


def grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, in a fixed order."""
    keys = list(axes)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes.values())]


def algoperf_halton_points(n: int, dims: int, skip: int = 100) -> list[tuple[float, ...]]:
    """AlgoPerf's Halton points (algoperf/halton.py's generate_sequence, before its shuffle).

    Dimension d is a Van der Corput sequence in base p_d, the dims primes below 1000 that
    precede the largest (947, 953, ... for 7 dims), whose digits 1..p_d - 1 are permuted by
    numpy's RandomState(p_d) and which is shifted by that generator's next uniform (mod 1);
    indices start at 1 and the first `skip` points are dropped. Deterministic: AlgoPerf's only
    randomness left is the unseeded shuffle of the points' order, which `halton` seeds.
    """
    sieve = np.ones(1000, bool)
    sieve[:2] = False
    for k in range(2, 32):
        sieve[k * k :: k] &= False
    primes = [int(q) for q in np.flatnonzero(sieve) if q != 2]
    if dims + 1 > len(primes):
        raise ValueError(f"halton: {dims} dimensions; accepted: at most {len(primes) - 1}")
    columns = []
    for base in primes[-dims - 1 : -1]:
        rng = np.random.RandomState(base)
        digits = list(range(1, base))
        rng.shuffle(digits)
        digits = [0, *digits]
        shift = rng.random_sample()
        column = []
        for i in range(1, n + skip + 1):
            value, denominator = 0.0, base
            while i:
                value += digits[i % base] / denominator
                denominator *= base
                i //= base
            column.append(math.fmod(value + shift, 1.0))
        columns.append(column[skip:])
    return list(zip(*columns, strict=True))


def halton(space: Mapping[str, LogUniform | Choice], n: int, seed: int, skip: int = 100):
    """n trials of AlgoPerf's quasi-random search over `space`, one Halton dimension per
    hyperparameter in the space's order (algoperf_halton_points), mapped by LogUniform.at /
    Choice.at. AlgoPerf then shuffles the n points with numpy's global, unseeded generator;
    we permute them with `seed`, so the same (space, n, seed) always gives the same trials, in
    AlgoPerf's set of points.
    """
    points = algoperf_halton_points(n, len(space), skip)
    order = np.random.default_rng(seed).permutation(n)
    return [
        {k: p.at(float(x)) for (k, p), x in zip(space.items(), points[i], strict=True)}
        for i in order
    ]


def only(chosen: Mapping[str, Any], among: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`chosen`, plus None (not overridden) for every other key the variants `among` set: the
    `where` of Sweep.find that tells a variant from the ones that add options to it
    ({"kind": "laser"} alone would also match "laser + temp")."""
    return {**dict.fromkeys(k for variant in among for k in variant), **chosen}


def trial_name(values: Mapping[str, Any]) -> str:
    """A stable, filesystem-safe name from override values: "lr=0.001,wd=0.1"."""
    return ",".join(f"{k.split('.')[-1]}={_format(v)}" for k, v in values.items())


def _format(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v).lower() if isinstance(v, bool) else str(v)
