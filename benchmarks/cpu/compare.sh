#!/usr/bin/env bash
# Ours vs the TorchSharp (LibTorch CPU) peer, interleaved round by round, both at 2 threads:
#   training: `elmo bench --preset cpu-small --vocab-size 19423` (ms per step) against the peer's two
#             variants (LibTorch's LSTM-with-projection kernel; a hand-written clipped cell like ours);
#   embedding: `elmo bench --preset elmo-original --embed` (64 synthetic sentences, tokens/s) against the
#             peer's `embed` at the same size on the same sentences.
# Prints every round, then medians and ratios, with the CPU (model, cores, the ISA our host GEMM ran) and the load.
# Ours runs with host execution (the CPU default).
# Usage: benchmarks/cpu/compare.sh [train|embed|all]   (default all)
# Environment: ROUNDS (3), TRAIN_STEPS (10), TRAIN_WARMUP (5 untimed steps first, both sides), EMBED_BATCHES (2, after 1
# warm-up), THREADS (2), OMP_WAIT_POLICY (PASSIVE, see below),
# ISA (native: each side's widest SIMD; avx2: the AVX2 proxy on an AVX-512 machine, below).
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
rounds=${ROUNDS:-3}
train_steps=${TRAIN_STEPS:-10}
# Both sides get the same untimed steps. elmo runs without tiered compilation (its runtimeconfig), so its second
# step is already at steady speed; with tiering it took 10-20 steps, and 2 warm-up steps timed JIT work.
train_warmup=${TRAIN_WARMUP:-5}
embed_batches=${EMBED_BATCHES:-2}
threads=${THREADS:-2}

dotnet build src/IlgpuElmo.Cli -c Release -v quiet -nologo >/dev/null
dotnet build benchmarks/peers/TorchSharpPeer -c Release -v quiet -nologo >/dev/null
# Two threads for both: .NET's processor count (our parallel loops and GEMM workers), LibTorch's intra-op pool.
export DOTNET_PROCESSOR_COUNT=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
# On a shared, oversubscribed machine LibTorch's spinning OpenMP barriers collapse (measured here at load
# ~100: 92 s per step spinning, 1.5 s passive), so the peer's threads sleep at barriers unless told otherwise;
# on a quiet machine set OMP_WAIT_POLICY=ACTIVE to give the peer its spinning barriers back.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# ISA=avx2 measures an AVX2 machine's code paths on an AVX-512 one: .NET stops using AVX-512 (DOTNET_EnableAVX512=0 on
# .NET 10; DOTNET_EnableAVX512F=0 was .NET 8's name and no longer works), and MKL, oneDNN and ATen take their AVX2
# kernels. It is a proxy: the FMA units, caches and clock stay the AVX-512 machine's.
isa=${ISA:-native}
case $isa in
  native) ours_env=(); peer_env=() ;;
  avx2) ours_env=(DOTNET_EnableAVX512=0 DOTNET_EnableAVX512F=0)
        peer_env=(MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2) ;;
  *) echo "ISA must be native or avx2, not '$isa'" >&2; exit 2 ;;
esac
ours=(env "${ours_env[@]}" dotnet src/IlgpuElmo.Cli/bin/Release/net10.0/elmo.dll bench --device cpu --cpu-execution host)
peer=(env "${peer_env[@]}" dotnet benchmarks/peers/TorchSharpPeer/bin/Release/net10.0/TorchSharpPeer.dll)
cpu_line=$("${ours[@]}" --fma-peak | head -1)

# Runs a command, echoes its first line that gives $1 ("ms/step" or "tokens/s"), prints that number.
measure() {
  local unit=$1; shift
  local line
  line=$("$@" 2>/dev/null | grep -E "[0-9.]+ $unit" | head -1)
  echo "    $line" >&2
  grep -oE "[0-9.]+ $unit" <<<"$line" | head -1 | cut -d' ' -f1
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

date -u "+%Y-%m-%d %H:%M UTC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY, ISA=$isa"
echo "$cpu_line"
declare -a t_ours t_lib t_cell e_ours e_lib e_cell
for ((r = 1; r <= rounds; r++)); do
  echo "round $r" >&2
  if [[ $what != embed ]]; then
    t_ours+=("$(measure ms/step "${ours[@]}" --preset cpu-small --vocab-size 19423 --steps "$train_steps" --warmup "$train_warmup")")
    t_lib+=("$(measure ms/step "${peer[@]}" train --variant libtorch --steps "$train_steps" --warmup "$train_warmup" --threads "$threads")")
    t_cell+=("$(measure ms/step "${peer[@]}" train --variant clipped --steps "$train_steps" --warmup "$train_warmup" --threads "$threads")")
  fi
  if [[ $what != train ]]; then
    e_ours+=("$(measure tokens/s "${ours[@]}" --preset elmo-original --embed --sentences 64 --steps "$embed_batches" --warmup 1)")
    e_lib+=("$(measure tokens/s "${peer[@]}" embed --variant libtorch --sentences 64 --steps "$embed_batches" --warmup 1 --threads "$threads")")
    e_cell+=("$(measure tokens/s "${peer[@]}" embed --variant clipped --sentences 64 --steps "$embed_batches" --warmup 1 --threads "$threads")")
  fi
done
echo "finished $(date -u +%H:%M) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$cpu_line; ISA=$isa (${ours_env[*]:-no SIMD limits} for ours, ${peer_env[*]:-no SIMD limits} for the peer)"

if [[ $what != embed ]]; then
  a=$(printf '%s\n' "${t_ours[@]}" | median); b=$(printf '%s\n' "${t_lib[@]}" | median); c=$(printf '%s\n' "${t_cell[@]}" | median)
  best=$(printf '%s\n%s\n' "$b" "$c" | sort -g | head -1)
  echo "training cpu-small, median ms/step over $rounds rounds: ours $a (${t_ours[*]}), peer LibTorch LSTM $b (${t_lib[*]}), peer clipped cell $c (${t_cell[*]})"
  awk -v a="$a" -v b="$best" 'BEGIN { printf "  ours / faster peer step time: %.2f (target <= 0.50)\n", a / b }'
fi
if [[ $what != train ]]; then
  a=$(printf '%s\n' "${e_ours[@]}" | median); b=$(printf '%s\n' "${e_lib[@]}" | median); c=$(printf '%s\n' "${e_cell[@]}" | median)
  best=$(printf '%s\n%s\n' "$b" "$c" | sort -g | tail -1)
  echo "embedding elmo-original, median tokens/s over $rounds rounds: ours $a (${e_ours[*]}), peer LibTorch LSTM $b (${e_lib[*]}), peer clipped cell $c (${e_cell[*]})"
  awk -v a="$a" -v b="$best" 'BEGIN { printf "  ours / faster peer tokens/s: %.2f (target >= 2)\n", a / b }'
fi
