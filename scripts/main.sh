#!/usr/bin/env bash
# The main job: install, train on the 38k-tweet corpus, evaluate on its held-out test split, save the
# model as one file, then classify two new texts with it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/sentilstm train --dataset tweets --out tweets.sentilstm "$@"
.venv/bin/sentilstm predict tweets.sentilstm "I love my new self-driving car" "driverless cars terrify me"
