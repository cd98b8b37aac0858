#!/usr/bin/env bash
# Screenshots of TensorBoard's Scalars and HPARAMS tabs for a directory of runs (docs/dashboards.md):
#   scripts/screenshot_tensorboard.sh <multirun dir> [output folder, default docs]
# Needs tensorboard (in the venv) and a Chromium (Debian: apt-get install chromium). PORT overrides 6006.
set -euo pipefail
logdir=${1:?usage: scripts/screenshot_tensorboard.sh <multirun dir> [output folder]}
out=${2:-docs}
port=${PORT:-6006}
url="http://127.0.0.1:${port}"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome)

tensorboard --logdir "$logdir" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server"' EXIT
for _ in $(seq 60); do  # TensorBoard reads the event files before it answers
    curl -sf "$url/data/runs" >/dev/null && break
    sleep 1
done
mkdir -p "$out"
shoot() {  # the page is a JavaScript app: give it virtual time to fetch and draw
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3" \
        --virtual-time-budget=20000 --screenshot="$1" "$2" 2>/dev/null
}
# Scalars: the tags a sweep is compared on first (the filter is the page's regex box, url-encoded).
tags=$(python -c "import urllib.parse; print(urllib.parse.quote('^(train/loss|val/loss|lr-Adam|train/tokens_per_s)$', safe=''))")
shoot "$out/tensorboard_scalars.png" "$url/#scalars&tagFilter=$tags" 1400,900
# HPARAMS: wide enough for the metric columns of the table view.
shoot "$out/tensorboard_hparams.png" "$url/#hparams" 1800,640
ls -l "$out/tensorboard_scalars.png" "$out/tensorboard_hparams.png"
