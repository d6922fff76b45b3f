#!/usr/bin/env bash
# The README's main job timed and judged in one call (issue 22, item 3: within 10 minutes on a 2-core
# AVX2 machine, build included, test perplexity at most 160, the probe no worse than the model the issue
# measured). What it does, as a new user would:
#   1. a fresh clone of this repository's HEAD (so restore and build are in the time; uncommitted changes
#      are not in it), then `dotnet run --project src/IlgpuElmo.Cli -c Release -- train`, timed from start
#      to exit;
#   2. `elmo probe pos --model RUN` on the model it trained (timed apart; not in the 10 minutes);
#   3. `elmo bench --fma-peak`: the CPU (model, cores, the ISA the host GEMM ran, caches) and its FMA peak;
#   4. a verdict per bar: wall clock <= 600 s, test perplexity <= 160, LSTM 1 and the scalar mix above the
#      probe's most-frequent-tag baseline by at least +1.89 and +3.35 points (the issue's AVX2 model).
# Usage: benchmarks/cpu/main-job.sh
# Environment: ISA (native: the machine's widest SIMD; avx2: the AVX2 proxy on an AVX-512 machine,
#   DOTNET_EnableAVX512=0), OUT (folder for the logs and the clone; default a new temporary folder),
#   SMOKE=1 (a rehearsal that CI runs: 20 steps and a small probe; the plumbing is checked, the bars are
#   printed but not judged).
# Exit status: 0 when every bar holds (in a smoke run: when everything ran and was read), 1 when a bar
# fails, 2 on a usage error, other on a failed command.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
isa=${ISA:-native}
case $isa in
  native) ;;
  avx2) export DOTNET_EnableAVX512=0 ;;
  *) echo "ISA must be native or avx2, not '$isa'" >&2; exit 2 ;;
esac
smoke=${SMOKE:-0}
case $smoke in 0|1) ;; *) echo "SMOKE must be 0 or 1, not '$smoke'" >&2; exit 2 ;; esac
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
if [ -e "$out/clone" ]; then
  echo "OUT=$out already holds a clone (another run's); give an empty or new folder" >&2; exit 2
fi
train_args=(); probe_args=()
if [ "$smoke" = 1 ]; then
  train_args=(--steps 20)
  probe_args=(--max-train-tokens 20000 --max-test-tokens 5000)
fi

commit=$(git -C "$repo" rev-parse --short HEAD)
dirty=""
[ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ] && dirty=" (the working tree has uncommitted changes; they are not in the clone)"
echo "main job of $commit$dirty, ISA=$isa, smoke=$smoke; logs in $out"
echo "start $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$(nproc)" = 2 ] || echo "note: the issue's bar is for 2 cores; this machine has $(nproc)"

git clone -q "$repo" "$out/clone"
cd "$out/clone"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
start=$(now)
dotnet run --project src/IlgpuElmo.Cli -c Release -- train "${train_args[@]}" > "$out/train.out" 2> "$out/train.err" \
  || { code=$?; echo "the train command failed (exit $code); its last lines, from $out/train.err:" >&2; tail -5 "$out/train.err" >&2; exit $code; }
wall=$(elapsed "$start")
echo "end of training $(date -u '+%H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

run=$(sed -n 's/^model and metrics in //p' "$out/train.out" | tail -1)
[ -n "$run" ] && [ -f "$run/result.json" ] || { echo "the train command named no run folder with a result.json (see $out/train.out)" >&2; exit 3; }
ppl=$(sed -n 's/^ *"test_perplexity": *\([0-9.]*\),\{0,1\}$/\1/p' "$run/result.json")
[ -n "$ppl" ] || { echo "$run/result.json has no test_perplexity" >&2; exit 3; }

probe_start=$(now)
dotnet run --project src/IlgpuElmo.Cli -c Release --no-build -- probe pos --model "$run" "${probe_args[@]}" > "$out/probe.out" 2> "$out/probe.err" \
  || { code=$?; echo "the probe failed (exit $code); its last lines, from $out/probe.err:" >&2; tail -5 "$out/probe.err" >&2; exit $code; }
probe_wall=$(elapsed "$probe_start")
# probe.json: the baseline's and each representation's accuracy on all test tokens ("all", the first key of each).
read -r base lstm1 mix < <(awk '
  /"baseline_most_frequent_tag"/ { want = "base" }
  /"accuracy": \{/ { inacc = 1 }
  /"training": \{/ { inacc = 0 }
  inacc && /"layer 1 \(LSTM 1\)"/ { want = "lstm1" }
  inacc && /"scalar mix of all layers"/ { want = "mix" }
  want != "" && /"all":/ { v = $2; sub(/,$/, "", v); a[want] = v; want = "" }
  END { print a["base"], a["lstm1"], a["mix"] }' "$run/probe.json")
[ -n "$base" ] && [ -n "$lstm1" ] && [ -n "$mix" ] || { echo "$run/probe.json lacks the baseline, LSTM 1 or mix accuracy" >&2; exit 3; }

cpu_lines=$(dotnet src/IlgpuElmo.Cli/bin/Release/net10.0/elmo.dll bench --fma-peak)

points() { awk -v a="$1" -v b="$base" 'BEGIN { printf "%+.2f", (a - b) * 100 }'; }
m1=$(points "$lstm1"); mm=$(points "$mix")
failed=0
judge() { # name, value, comparison, bar
  if awk -v v="$2" -v bar="$4" -v op="$3" 'BEGIN { exit !(op == "<=" ? v + 0 <= bar + 0 : v + 0 >= bar + 0) }'; then
    verdict=met
  else
    verdict="NOT met"; failed=1
  fi
  [ "$smoke" = 1 ] && verdict="not judged (smoke run)"
  printf '  %-28s %10s  (bar: %s %s)  %s\n' "$1" "$2" "$3" "$4" "$verdict"
}
echo "$cpu_lines"
echo "results ($(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)):"
judge "wall clock, build included, s" "$wall" "<=" 600
judge "test perplexity" "$(awk -v p="$ppl" 'BEGIN { printf "%.2f", p }')" "<=" 160
judge "probe LSTM 1 - baseline, pts" "$m1" ">=" 1.89
judge "probe mix - baseline, pts" "$mm" ">=" 3.35
echo "  probe: baseline $(awk -v b="$base" 'BEGIN { printf "%.2f %%", b * 100 }'), LSTM 1 and mix above it in points; it took $probe_wall s"
echo "  run folder $out/clone/$run; the commands' output in $out/train.out, train.err, probe.out, probe.err"
if [ "$smoke" = 1 ]; then exit 0; fi
exit $failed
