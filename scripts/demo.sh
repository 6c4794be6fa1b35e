#!/usr/bin/env bash
# Quick start: installs what is missing, generates a small demo pair (a 3-minute programme:
# synthetic music-and-effects bed with English dialogue; its dub has German dialogue over a
# remixed bed, starts 2.5 s late, is AAC-encoded, and has a 10 s scene cut at 01:00),
# then analyses it and prints the result.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip
if ! command -v ffmpeg >/dev/null || ! command -v espeak-ng >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg espeak-ng >/dev/null
  else
    echo "demo: needs ffmpeg and espeak-ng (sudo apt-get install ffmpeg espeak-ng)" >&2; exit 1
  fi
fi
[ -d node_modules/commander ] || npm ci --no-audit --no-fund
out=demo-out
[ -f "$out/dub.m4a" ] || bash scripts/make-demo-pair.sh "$out"
exec node services/cli/bin/sync-analyzer.js analyze "$out/master.wav" "$out/dub.m4a" "$@"
