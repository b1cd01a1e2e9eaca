#!/usr/bin/env bash
# Creates .venv-bench-peer: the PyTorch + x-transformers environment of the peer in
# `make bench-train` (benchmarks/peer_xtransformers.py runs inside it as a subprocess). Kept apart
# from .venv because torch and JAX pin different numpy/ml_dtypes ranges.
# Idempotent: a stamp records what was installed; a second run with the same pins does nothing.
# torch is pinned exactly: 2.13.0 is a CPU wheel on this machine's disk (/opt/wheels); an
# unpinned `torch` would resolve to a multi-GB CUDA build. x-transformers is pinned to the
# version whose LASER flag benchmarks/peer_xtransformers.py documents (attn_laser: tanh soft clamp).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=.venv-bench-peer
pins="torch==2.13.0 x-transformers==2.31.10"
stamp=$venv/.bench-peer-done

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
test -x "$venv/bin/python" || "$python" -m venv "$venv"
# shellcheck disable=SC2086  # $pins is a list of requirement specifiers
# The grep drops this machine's notes about empty local index folders (not errors); pipefail
# still reports a failing pip.
"$venv/bin/python" -m pip install -q --disable-pip-version-check $pins 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
# Guard: a dependency must not have replaced the pinned CPU torch.
"$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" \
  || { echo "bench_peer_env: torch is not 2.13.0 after install" >&2; exit 1; }
echo "$pins" > "$stamp"
echo "bench_peer_env: $venv ready ($pins)"
