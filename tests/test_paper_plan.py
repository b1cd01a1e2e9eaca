"""The paper plan's compile of one profile, in its own process (benchmarks/paper_plan.py): the
analysis of a tiny LM on a simulated 2 x 2 mesh, and a sharding that does not divide reported."""

from benchmarks import paper_plan

C4 = "experiments/c4_lm/config.py"
SMALL = ("data.batch_size=8", "data.seq_len=32", "mesh.fsdp=2")


def test_a_tiny_profile_compiles_and_is_analysed():
    entry = paper_plan.Entry(C4, "tiny", 4, "test", "model.num_layers", overrides=SMALL)
    r = paper_plan.run_child(entry, None)
    assert r["problems"] == [] and r["devices"] == 4 and r["mesh"] == {"data": 2, "fsdp": 2}
    assert r["layers"] == 4 and r["batch_per_device"] == 2 and r["per_chip_batch"] == 2
    # Every matrix is split over fsdp 2; Adam keeps two moments of each parameter.
    assert abs(2 * r["params_bytes"] / (4 * r["params_total"]) - 1) < 0.02
    assert abs(r["opt_bytes"] / r["params_bytes"] - 2) < 0.01
    assert r["flops"] > 6 * r["params_total"] * 2 * 32  # at least 6 N per token of the chip
    assert r["temp_bytes"] > 0 and r["alias_bytes"] > 0  # the state is donated
    text = paper_plan.render([(entry, r)], "a CPU", 1.0, None)
    assert "| c4_lm:tiny |" in text and "4 (2 x 2; test)" in text


def test_a_sharding_that_does_not_divide_is_reported():
    entry = paper_plan.Entry(C4, "tiny", 6, "test", overrides=(*SMALL[:2], "mesh.fsdp=3"))
    r = paper_plan.run_child(entry, None)
    assert any("dim 128 over fsdp 3" in p for p in r["problems"]), r["problems"]
    assert "batch 8 not divisible over 6 chips" in r["problems"]
    text = paper_plan.render([(entry, r)], "a CPU", 1.0, None)
    assert "not compiled: " in text


# Paper profiles that train no model of their own: Appendix A.5 times attention on random
# inputs; downstream fine-tunes the 2.2B LM (c4_lm:paper-2.2b, in the plan) at a smaller batch.
NOT_TRAINED_HERE = {"appendix_a5:paper", "downstream:paper"}


def test_every_paper_profile_is_in_the_plan():
    import importlib

    planned = {e.name for e in paper_plan.PLAN}
    profiles = set()
    for config in sorted(paper_plan.ROOT.glob("experiments/*/config.py")):
        module = importlib.import_module(f"experiments.{config.parent.name}.config")
        profiles |= {f"{config.parent.name}:{p}" for p in module.PROFILES if p.startswith("paper")}
    assert {"c4_lm:paper-2.2b", "bert_mlm:paper", "scaling_7b:paper-7.7b"} <= profiles
    assert profiles - NOT_TRAINED_HERE - planned == set()
    assert planned <= profiles  # no entry names a profile that does not exist
