# The user's interface to the suite. README commands are exactly these targets.
# PROFILE=tiny (default) runs on a laptop CPU; PROFILE=paper launches the paper's scale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
PROFILE ?= tiny
# Sweep trials run side by side: on a 2-core CPU two tiny runs at once finish 1.33x sooner than
# one after the other (measured: 2 x 200 steps, 98 s sequential vs 74 s together); paper-scale
# trials each take the whole accelerator set, so one at a time.
JOBS ?= $(if $(filter tiny,$(PROFILE)),2,1)
export PYTHONHASHSEED := 0
# LAUNCHER=slurm submits each unfinished trial as a Slurm job (sweeps/slurm.py) and returns; run
# the target again to resubmit failed or preempted trials and refresh the table. SLURM holds the
# job's options, e.g. SLURM="--nodes 8 --gpus-per-node 8 --partition gpu --time 48:00:00".
LAUNCHER ?= local
SLURM ?=
LAUNCH = --launcher $(LAUNCHER) $(SLURM)

.PHONY: reproduce-figure-1 reproduce-gradients reproduce-sharpness test-multiprocess test-cluster paper-plan sweep setup test lint format bench bench-attention bench-train bench-profile bench-levers reproduce-appendix-a5 reproduce-table-1 reproduce-table-8 reproduce-table-9 reproduce-figure-2 reproduce-figure-3 reproduce-figure-4 reproduce-figure-5 reproduce-figure-6 reproduce-table-11 reproduce-lamb reproduce-table-2 reproduce-table-3 reproduce-table-10 reproduce-table-5 reproduce-table-4 reproduce-table-6 reproduce-table-7 reproduce-bert clean-venv help

help:
	@echo "make setup | test | lint | format | bench | bench-attention | bench-train | bench-profile | bench-levers | sweep SWEEP=<file>"
	@echo "make reproduce-{table-1..11,lamb,figure-1..6,gradients,appendix-a5} [PROFILE=tiny|paper] [JOBS=N] [LAUNCHER=slurm SLURM='...']"
	@echo "make reproduce-sharpness [JOBS=N]   (tiny only; ~90 min here)"
	@echo "make reproduce-bert [PROFILE=tiny|paper] [JOBS=N]   (paper: BERT_TRAIN_FILES, BERT_EVAL_FILES)"
	@echo "make test-multiprocess | test-cluster | paper-plan"

# Idempotent: reinstalls only when requirements.txt or pyproject.toml change.
setup: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	bash tools/install_tiny_data.sh $(PY)
	touch $(STAMP)

test: setup
	$(PY) -m pytest -n 2 --durations=15 tests

# Two JAX processes (gloo) against one, with SIGTERM and SIGKILL resume (~3 min on 2 loaded cores).
test-multiprocess: setup
	LASER_MULTIPROCESS=1 $(PY) -m pytest tests/test_multiprocess.py

# A single-node Slurm on this machine (root, apt): a 2-trial sweep of 2-process runs under srun.
test-cluster: setup
	$(PY) tools/test_cluster.py

# Every paper profile's train step compiled ahead of time on a simulated mesh -> results/tables/.
paper-plan: setup
	$(PY) -m benchmarks.paper_plan --out results/tables/paper_plan.md

lint: setup
	$(VENV)/bin/ruff check laser experiments analysis benchmarks sweeps tests
	$(VENV)/bin/ruff format --check laser experiments analysis benchmarks sweeps tests

format: setup
	$(VENV)/bin/ruff check --fix laser experiments analysis benchmarks sweeps tests
	$(VENV)/bin/ruff format laser experiments analysis benchmarks sweeps tests

bench: bench-attention bench-train

bench-attention: setup
	$(PY) -m benchmarks.attention --out results/bench

bench-train: setup
	bash tools/bench_peer_env.sh
	$(PY) -m benchmarks.train --out results/bench

# Where the train step's time goes (a JAX profiler trace, ops grouped by what they compute).
bench-profile: setup
	$(PY) -m benchmarks.profile_step --out results/bench

# XLA:CPU options, one process each, on the same train step (tokens/s vs the default).
bench-levers: setup
	$(PY) -m benchmarks.levers --out results/bench

reproduce-appendix-a5: setup
	$(PY) -m experiments.appendix_a5.run --profile $(PROFILE) --workdir results/runs/appendix_a5/$(PROFILE)
	$(PY) -m analysis.appendix_a5 --runs results/runs/appendix_a5/$(PROFILE) --out results/tables

# Table 1: 3 rows x {LASER, standard} x 3 seeds via the resumable sweep runner (only missing runs
# run), then the table from run records, rendered even when some runs did not finish.
reproduce-table-1: setup
	$(PY) -m sweeps.run sweeps/table1.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.render table1 --profile $(PROFILE) && exit $$status

# Figure 1 (attention probabilities) and the gradients through attention beside it, measured on
# the checkpoints of sweeps/figure1.py's two runs (tiny: Table 1's seed-0 `tiny` runs; paper:
# Figure 4's 2.2B runs), trained first if missing. Any LM run instead:
# `$(PY) -m analysis.figure1 figure1 --workdir <run> --workdir <run>`.
reproduce-figure-1 reproduce-gradients: setup
	$(PY) -m sweeps.run sweeps/figure1.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	[ $$status = 2 ] && exit 2; \
	$(PY) -m analysis.figure1 $(if $(filter reproduce-figure-1,$@),figure1,gradients) --profile $(PROFILE) && exit $$status

# Beyond the paper: tiny LMs at 128/512/1024 tokens (tokens per step fixed), LASER vs standard x
# 3 seeds (the 128-token runs are Table 1's), then shares, gradient ratio and loss difference.
reproduce-sharpness: setup
	$(PY) -m sweeps.run sweeps/sharpness.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	[ $$status = 2 ] && exit 2; \
	$(PY) -m analysis.sharpness --profile $(PROFILE) && exit $$status

# Figures 2, 3 and 6 plot Table 1's runs (the sweep runs only what is missing).
reproduce-figure-2 reproduce-figure-3 reproduce-figure-6: reproduce-figure-%: setup
	$(PY) -m sweeps.run sweeps/table1.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.plots figure$* --profile $(PROFILE) && exit $$status

# Figures 4 and 5: five sizes x {LASER, standard}, a power-law fit per kind, the two largest' curves.
reproduce-figure-4 reproduce-figure-5: reproduce-figure-%: setup
	$(PY) -m sweeps.run sweeps/figure4.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.plots figure$* --profile $(PROFILE) && exit $$status

# LAMB ablation and Table 11 (float32 vs bfloat16) share one sweep and one renderer.
reproduce-table-11 reproduce-lamb: setup
	$(PY) -m sweeps.run sweeps/ablations.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.render table11 --profile $(PROFILE) && exit $$status

# Table 2: one-shot accuracy of the tiny LMs (Table 1's plain runs shared, variants trained
# here); Table 10: the same over each run's last 5 checkpoints; Table 3: fine-tuning from them.
reproduce-table-2 reproduce-table-10: reproduce-table-%: setup
	$(PY) -m sweeps.run sweeps/table2.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.downstream evaluate table$* --profile $(PROFILE) && \
	$(PY) -m analysis.render table$* --profile $(PROFILE) && exit $$status

reproduce-table-3: setup
	$(PY) -m sweeps.run sweeps/table2.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); \
	$(PY) -m sweeps.run sweeps/table3.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.render table3 --profile $(PROFILE) && exit $$status

# Table 4: 8 attention variants x 3 seeds of the ViT (tiny: Fashion-MNIST). SWEEP=1 first runs the
# Table 8 baseline search (sweeps/vit_search.py) and gives its best trial to every Table 4 run.
VIT_HPARAMS := $(if $(filter 1,$(SWEEP)),results/runs/vit_search-$(PROFILE)/best.json)
reproduce-table-4: setup
	$(if $(filter 1,$(SWEEP)),$(PY) -m sweeps.run sweeps/vit_search.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH);) \
	export VIT_HPARAMS=$(VIT_HPARAMS); \
	$(PY) -m sweeps.run sweeps/table4.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	[ $$status = 2 ] && exit 2; \
	$(PY) -m analysis.render table4 --profile $(PROFILE) && exit $$status

# Table 5: the Conformer's six variants x 3 seeds on synthesised speech (tiny) or Librispeech.
reproduce-table-5: setup
	$(PY) -m sweeps.run sweeps/table5.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.render table5 --profile $(PROFILE) && exit $$status

# Table 6 (the 7.7B LM, LASER vs standard) and Table 7 (the Diff Transformer, Diff+LASER vs
# Diff): 2 kinds x 3 seeds each, evaluated one-shot (records kept), then rendered.
reproduce-table-6 reproduce-table-7: reproduce-table-%: setup
	$(PY) -m sweeps.run sweeps/table$*.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.lm_ablations evaluate table$* --profile $(PROFILE) && \
	$(PY) -m analysis.render table$* --profile $(PROFILE) && exit $$status

# BERT masked-LM error (§4.2): LASER and standard x 3 seeds (tiny: gensim's Wikipedia articles;
# paper: MLPerf's TFRecords, named by BERT_TRAIN_FILES and BERT_EVAL_FILES).
reproduce-bert: setup
	$(PY) -m sweeps.run sweeps/bert.py --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH); status=$$?; \
	$(PY) -m analysis.render bert --profile $(PROFILE) && exit $$status

# Any sweep file: `make sweep SWEEP=sweeps/table9.py [PROFILE=paper] [JOBS=N]`.
sweep: setup
	@test -n "$(SWEEP)" || { echo "make: sweep needs SWEEP=<sweep file>; accepted: $$(grep -l '^def sweep(' sweeps/*.py | tr '\n' ' ')" >&2; exit 2; }
	$(PY) -m sweeps.run $(SWEEP) --profile $(PROFILE) --jobs $(JOBS) $(LAUNCH)

# Tables 8 and 9 are search spaces: rendered straight from the sweep files.
reproduce-table-8 reproduce-table-9: reproduce-table-%: setup
	$(PY) -m analysis.render table$* --profile $(PROFILE)

# Studies not yet reproducible answer with one line and exit status 2 (see experiments/README.md).
AVAILABLE := figure-1 gradients sharpness table-1 table-2 table-3 table-4 table-5 table-6 table-7 bert table-8 table-9 table-10 table-11 lamb figure-2 figure-3 figure-4 figure-5 figure-6 appendix-a5
reproduce-table-%:
	@echo "make: table '$*' is not reproducible yet; accepted: $(AVAILABLE) (make reproduce-<name>)" >&2; exit 2
reproduce-figure-%:
	@echo "make: figure '$*' is not reproducible yet; accepted: $(AVAILABLE) (make reproduce-<name>)" >&2; exit 2

clean-venv:
	rm -rf $(VENV)
