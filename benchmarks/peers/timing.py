"""The one timer every PyTorch peer uses: median wall milliseconds of a step, CUDA synchronised after
each, after warm-up steps; the same rule as our BenchmarkDotNet runs (median of waited-for steps)."""
import time

import torch


def median_ms(step, warmup=10, runs=50):
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[len(times) // 2]
