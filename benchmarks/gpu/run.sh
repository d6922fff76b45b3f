#!/usr/bin/env bash
# One GPU-machine run of every benchmark, ours and the PyTorch peers', so figures are comparable.
#
# Here (the build machine):
#   ../shared/gpu/bundle.sh benchmarks/IlgpuElmo.Benchmarks/IlgpuElmo.Benchmarks.csproj src/IlgpuElmo.Cli/IlgpuElmo.Cli.csproj
# There (device tool, carry [".gpu"]):
#   source .gpu/env.sh && bash benchmarks/gpu/run.sh
# Writes $OUT/ (or /tmp/bench): BenchmarkDotNet's reports, the peers' output, and prints a summary last.
set -uo pipefail
out=${OUT:-/tmp/bench}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
date -u +%Y-%m-%dT%H:%MZ | tee "$out/date.txt"

echo "== elmo devices / selfcheck (CUDA, TF32, OpenCL through PoCL)"
dotnet .gpu/IlgpuElmo.Cli/elmo.dll devices | tee "$out/devices.txt"
dotnet .gpu/IlgpuElmo.Cli/elmo.dll selfcheck --device cuda | tee "$out/selfcheck-cuda.txt"
dotnet .gpu/IlgpuElmo.Cli/elmo.dll selfcheck --device cuda --precision tf32 | tee "$out/selfcheck-cuda-tf32.txt"
dotnet .gpu/IlgpuElmo.Cli/elmo.dll selfcheck --device opencl | tee "$out/selfcheck-opencl.txt"

echo "== training throughput at the published ELMo size (issue 6: 60k tokens/s fp32, 100k TF32 targets)"
dotnet .gpu/IlgpuElmo.Cli/elmo.dll bench --device cuda --preset elmo-original --vocab-size 793471 --precision fp32 | tee "$out/bench-fp32.txt"
dotnet .gpu/IlgpuElmo.Cli/elmo.dll bench --device cuda --preset elmo-original --vocab-size 793471 --precision tf32 | tee "$out/bench-tf32.txt"

echo "== peers (PyTorch, same machine, same run)"
for peer in benchmarks/peers/*.py; do
  echo "-- $peer"
  python3 "$peer" 2>&1 | tee "$out/peer-$(basename "$peer" .py).txt"
done

echo "== ours (BenchmarkDotNet, in-process)"
dotnet .gpu/IlgpuElmo.Benchmarks/IlgpuElmo.Benchmarks.dll --inprocess --job short --filter "${FILTER:-*}" \
  --artifacts "$out/bdn" 2>&1 | tail -n 400 > "$out/ours.txt"

echo "== summary"
grep -h -E '^\|' "$out"/bdn/results/*-report-github.md 2>/dev/null
for f in "$out"/peer-*.txt; do echo "-- $(basename "$f")"; tail -n 20 "$f"; done
tail -n 3 "$out"/bench-*.txt
