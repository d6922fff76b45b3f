#!/usr/bin/env bash
# The GPU machine's run, as one call of at most 8 minutes: correctness first (CUDA and OpenCL), then our
# timings beside their PyTorch peers from the same run. Every step runs under `timeout` with its own
# budget; its stdout and stderr are teed into $OUT/gpu-run/<step>.log; after every step everything there
# is tarred into $OUT/gpu-run.tar.gz (so even a killed run leaves it), and on exit (a step's timeout
# included) the folder is packed a last time and removed: $OUT keeps the tarball and summary.txt, the
# short table printed last.
#
# Here (the build machine), once:
#   ../shared/gpu/bundle.sh src/IlgpuElmo.Cli/IlgpuElmo.Cli.csproj benchmarks/IlgpuElmo.Benchmarks/IlgpuElmo.Benchmarks.csproj
# There (device tool, carry [".gpu"], timeout_s 540):
#   bash benchmarks/gpu/run.sh
# Rehearsal on the CPU (every step on --device cpu at tiny sizes, from the bundle or else the Release
# builds; what needs CUDA or PyTorch is skipped and says so; the peers are only byte-compiled):
#   DRY_RUN=1 OUT=dir bash benchmarks/gpu/run.sh
#
# Steps and their budgets (seconds; the sequential sum is 460, the OpenCL check runs beside steps 4-6):
#   1  setup               20  unpack the bundle (.gpu/env.sh), nvidia-smi
#   2  devices             10  elmo devices
#   3  opencl-train-check  90  elmo selfcheck --train --device opencl (PoCL on the CPU), tiny models; in the background
#   4  selfcheck-fp32      15  elmo selfcheck --device cuda --precision fp32 (GEMM against float64, measured math)
#   5  selfcheck-tf32      15  the same, --precision tf32
#   6  cuda-train-check    60  elmo selfcheck --train --device cuda: every head trained and embedded against the CPU host path
#   7  bench-fp32          45  elmo bench --preset elmo-original --vocab-size 793471 --precision fp32 (10 timed steps)
#   8  bench-tf32          45  the same, --precision tf32
#   9  peer-bilm           45  benchmarks/peers/bilm_peer.py: the same model in PyTorch (cuDNN LSTM, and the clipped cell)
#   10 bdn-lstm-gather     50  BenchmarkDotNet, in-process short job: LSTM layer forward, forward+backward (fp32, tf32); gather
#   11 bdn-softmax         65  the same: the three softmax heads, forward+backward (fp32, tf32)
#   12 peer-lstm           30  benchmarks/peers/lstm_peer.py (cuDNN nn.LSTM with proj_size)
#   13 peer-softmax        35  benchmarks/peers/softmax_peer.py
#   14 peer-encoder        25  benchmarks/peers/encoder_peer.py (gather, index_add_, char CNN)
# Left out to fit: the GEMM suite, the scalar mix, the char CNN and scatter-add suites of ours, the
# 2-layer bidirectional LSTM benchmark (their peers' figures still print; time them in a second call).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=${OUT:-/tmp/gpu-run}
dry=${DRY_RUN:-0}
mkdir -p "$out"
out=$(cd "$out" && pwd)
logs="$out/gpu-run"
rm -rf "$logs"
mkdir -p "$logs"
tarball="$out/gpu-run.tar.gz"
summary="$out/summary.txt"
started=$(date +%s)
steps=()
current=

# pack: everything kept so far into the one tarball (after every step, so a killed run still leaves one).
# Its own temporary name per shell (the background step packs too); tar's "file changed" still packs.
pack() {
  local part="$tarball.$BASHPID.part"
  tar -C "$out" -czf "$part" gpu-run 2>/dev/null
  if [ -s "$part" ]; then mv -f "$part" "$tarball"; else rm -f "$part"; fi
}

# result NAME LINE: a step's one-line result for the table.
result() { printf '%s\n' "$2" > "$logs/$1.result"; }

# step NAME BUDGET PATTERN COMMAND...: runs COMMAND under timeout, stdout+stderr teed to NAME.log; the table
# shows the last line matching PATTERN (an extended regex) as the step's result.
step() {
  local name=$1 budget=$2 pattern=$3 t0 rc status
  shift 3
  t0=$(date +%s)
  current="$name $t0 $budget"
  echo "== $name (budget ${budget}s): $*"
  timeout -k 5 "$budget" "$@" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  steps+=("$name")
  case $rc in
    0) status=ok ;;
    124|137) status="TIMEOUT" ;;
    *) status="FAIL($rc)" ;;
  esac
  printf '%s %s %s\n' "$status" "$(( $(date +%s) - t0 ))" "$budget" > "$logs/$name.status"
  result "$name" "$(grep -E "$pattern" "$logs/$name.log" | tail -n 1 | cut -c1-150)"
  current=
  pack
  return 0
}

# skip NAME WHY: a step not run, with the reason in the table.
skip() {
  echo "== $1: skipped: $2" | tee "$logs/$1.log"
  printf 'skipped 0 0\n' > "$logs/$1.status"
  result "$1" "$2"
  steps+=("$1")
}

table() {
  {
    printf '%-20s %-12s %6s %6s  %s\n' step status time budget result
    for name in "${steps[@]}"; do
      local status=missing time=0 budget=0 line=""
      [ -f "$logs/$name.status" ] && read -r status time budget < "$logs/$name.status"
      [ -f "$logs/$name.result" ] && line=$(cat "$logs/$name.result")
      printf '%-20s %-12s %5ss %5ss  %s\n' "$name" "$status" "$time" "$budget" "$line"
    done
    echo "total $(( $(date +%s) - started ))s; every step's log, BenchmarkDotNet's reports and this table: $tarball"
  } > "$logs/summary.txt"
}

finish() {
  trap - EXIT INT TERM
  [ -n "${opencl_pid:-}" ] && kill "$opencl_pid" 2>/dev/null
  if [ -n "${current:-}" ]; then
    # Interrupted in the middle of a step: it gets a row too.
    read -r name t0 budget <<< "$current"
    printf 'interrupted %s %s\n' "$(( $(date +%s) - t0 ))" "$budget" > "$logs/$name.status"
    steps+=("$name")
  fi
  echo "== details"
  for name in "${steps[@]}"; do
    case $name in
      *train-check|bench-*|peer-*)
        grep -q '^ok' "$logs/$name.status" 2>/dev/null || continue
        echo "-- $name"
        grep -E '^  [a-z]|timed steps|positions|tokens per step|ms/step| ms$| us |GB/s' "$logs/$name.log" | tail -n 14 ;;
    esac
  done
  grep -h -E '^\|' "$logs"/bdn-*/results/*-report-github.md 2>/dev/null
  table
  pack
  cp "$logs/summary.txt" "$summary"
  rm -rf "$logs"
  echo "== summary"
  cat "$summary"
  # Exit 1 when a step failed or ran out of time (skipped steps are not failures).
  if grep -q -E '^[^ ]+ +(FAIL|TIMEOUT|missing|interrupted)' "$summary"; then exit 1; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The bundle, or in a dry run the Release builds where there is none.
if [ -f .gpu/env.sh ]; then
  # env.sh unpacks a project only where it is not unpacked yet: a copy from another bundle (its stamp, the
  # tarball's mtime, differs) goes first.
  setup='bundle=$(sed -n "s/^export GPU_BUNDLE=//p" .gpu/env.sh)
for t in .gpu/*.app.tar.xz; do n=$(basename "$t" .app.tar.xz)
  if [ "$(cat "$bundle/$n.stamp" 2>/dev/null)" != "$(stat -c %Y "$t")" ]; then rm -rf "${bundle:?}/$n"; fi; done
source .gpu/env.sh && for t in .gpu/*.app.tar.xz; do stat -c %Y "$t" > "$GPU_BUNDLE/$(basename "$t" .app.tar.xz).stamp"; done
echo "bundle: $GPU_BUNDLE" && ls -l "$GPU_BUNDLE" && dotnet --list-runtimes'
elif [ "$dry" = 1 ]; then
  setup='echo "no .gpu/ bundle: the Release builds (dotnet build benchmarks/IlgpuElmo.Benchmarks -c Release makes both)"; ls src/IlgpuElmo.Cli/bin/Release/net10.0/elmo.dll benchmarks/IlgpuElmo.Benchmarks/bin/Release/net10.0/IlgpuElmo.Benchmarks.dll'
else
  echo "no .gpu/env.sh: make the bundle first (see this script's header)" >&2
  exit 2
fi
if [ "$dry" = 1 ]; then
  echo "DRY RUN: every step on --device cpu at tiny sizes; what needs CUDA or PyTorch is skipped"
  step setup 20 '.' bash -c "$setup; echo \"CPU: \$(nproc) cores, load \$(cut -d' ' -f1-3 /proc/loadavg)\""
else
  step setup 20 '.' bash -c "$setup; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader"
fi
if [ -f .gpu/env.sh ]; then
  source .gpu/env.sh >/dev/null
  elmo=(dotnet "$GPU_BUNDLE/IlgpuElmo.Cli/elmo.dll")
  benchmarks=(dotnet "$GPU_BUNDLE/IlgpuElmo.Benchmarks/IlgpuElmo.Benchmarks.dll")
else
  elmo=(dotnet src/IlgpuElmo.Cli/bin/Release/net10.0/elmo.dll)
  benchmarks=(dotnet benchmarks/IlgpuElmo.Benchmarks/bin/Release/net10.0/IlgpuElmo.Benchmarks.dll)
fi

step devices 10 'auto picks' "${elmo[@]}" devices

# OpenCL through PoCL, beside the CUDA checks (none of them is a timing); waited for before the timings.
# The dry run runs this step on --device cpu (host execution), so its background path is rehearsed too.
opencl_pid=
opencl_check=()
if [ "$dry" = 1 ]; then
  opencl_check=(--device cpu --size tiny --steps 1)
elif grep -E -q -- '--device opencl .* yes$' "$logs/devices.log"; then
  opencl_check=(--device opencl --size tiny --steps 2)
else
  skip opencl-train-check "no usable OpenCL device in elmo devices (needs OpenCL 2.0+ with the generic address space, e.g. PoCL 4+)"
fi
if [ ${#opencl_check[@]} -gt 0 ]; then
  steps+=(opencl-train-check)
  step opencl-train-check 90 'selfcheck --train' "${elmo[@]}" selfcheck --train "${opencl_check[@]}" > /dev/null &
  opencl_pid=$!
fi

if [ "$dry" = 1 ]; then
  device=(--device cpu)
  train_check=(--device cpu --cpu-execution simulate --size tiny --steps 1)
  bench_size=(--preset cpu-small --vocab-size 2000 --steps 2 --warmup 1)
else
  device=(--device cuda)
  train_check=(--device cuda --size small --steps 3)
  bench_size=(--preset elmo-original --vocab-size 793471 --steps 10 --warmup 3)
fi
step selfcheck-fp32 15 'selfcheck (passed|FAILED)' "${elmo[@]}" selfcheck "${device[@]}" --precision fp32
step selfcheck-tf32 15 'selfcheck (passed|FAILED)' "${elmo[@]}" selfcheck "${device[@]}" --precision tf32
step cuda-train-check 60 'selfcheck --train' "${elmo[@]}" selfcheck --train "${train_check[@]}"
if [ -n "$opencl_pid" ]; then
  wait "$opencl_pid"
  opencl_pid=
fi

step bench-fp32 45 'timed steps' "${elmo[@]}" bench "${device[@]}" "${bench_size[@]}" --precision fp32
step bench-tf32 45 'timed steps' "${elmo[@]}" bench "${device[@]}" "${bench_size[@]}" --precision tf32

peers=(timing.py bilm_peer.py lstm_peer.py softmax_peer.py encoder_peer.py)
python_peers=0
if [ "$dry" != 1 ] && python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  python_peers=1
fi
if [ "$python_peers" = 1 ]; then
  step peer-bilm 45 'training step' python3 benchmarks/peers/bilm_peer.py --steps 10 --warmup 3
else
  step peers-compile 15 'compiled' bash -c "cd benchmarks/peers && PYTHONPYCACHEPREFIX='$(mktemp -d)' python3 -m py_compile ${peers[*]} && echo 'compiled: ${peers[*]}'"
  skip peer-bilm "needs PyTorch with CUDA (byte-compiled only)"
fi

# BenchmarkDotNet's in-process short job with 150 ms iterations: a few seconds per case plus its setup (a
# device, compiled kernels, weights). Two calls, so a timeout in one leaves the other's figures.
bdn=(--inprocess --job short --iterationTime 150)
step bdn-lstm-gather 50 'executed benchmarks' "${benchmarks[@]}" "${bdn[@]}" \
  --filter '*LstmBenchmarks.LayerForward*' '*EmbeddingBenchmarks.Gather*' --artifacts "$logs/bdn-lstm-gather"
step bdn-softmax 65 'executed benchmarks' "${benchmarks[@]}" "${bdn[@]}" --filter '*SoftmaxBenchmarks*' --artifacts "$logs/bdn-softmax"

if [ "$python_peers" = 1 ]; then
  step peer-lstm 30 'layer forward\+backward' python3 benchmarks/peers/lstm_peer.py
  step peer-softmax 35 'adaptive' python3 benchmarks/peers/softmax_peer.py
  step peer-encoder 25 'gather' python3 benchmarks/peers/encoder_peer.py
else
  for name in peer-lstm peer-softmax peer-encoder; do skip "$name" "needs PyTorch with CUDA (byte-compiled only)"; done
fi
