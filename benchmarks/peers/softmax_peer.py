"""PyTorch peer of SoftmaxBenchmarks: one training step (forward + backward, loss read back) of each
softmax head at the issue's sizes, N = 2560 rows, P = 512:
  full      logits = h W^T + b over V = 50,000, cross-entropy;
  sampled   TensorFlow's sampled_softmax_loss written in PyTorch the way ours computes it: V = 793,471,
            S = 8192 unique log-uniform negatives shared by the batch, logits of [true, samples] minus
            log(expected count), accidental hits masked, cross-entropy; W and b looked up with
            F.embedding(sparse=True) so only the touched rows get gradient (as ours);
  adaptive  nn.AdaptiveLogSoftmaxWithLoss(512, 793471, [4000, 40000, 200000], div_value=4.0).
Targets are log-uniform draws (as in the C# benchmark). The unique samples are drawn on the host before
the timed loop (ours draws the next one on the host while the device works), so neither timing counts
the sampler. Weights uniform +-1/sqrt(fan_in). Gradients are set to None before each step.
Prints, for fp32 and TF32 matmuls, the median milliseconds over 50 timed steps after 10 warm-up steps.

Run on the GPU machine:  python3 benchmarks/peers/softmax_peer.py
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from timing import median_ms

N, P = 2560, 512
FULL_V = 50_000
LARGE_V, SAMPLES = 793_471, 8192
CUTOFFS, DIV_VALUE = [4000, 40_000, 200_000], 4.0


def log_uniform(rng, v, n):
    """n independent draws of P(k) = log((k+2)/(k+1)) / log(v+1)."""
    u = rng.random(n)
    return (np.floor(np.exp(u * math.log(v + 1))).astype(np.int64) - 1) % v


def unique_sample(rng, v, s):
    """TensorFlow's unique sampling: draw until s distinct ids; returns (ids in draw order, tries)."""
    seen, ids, tries = set(), [], 0
    while len(ids) < s:
        batch = log_uniform(rng, v, s)
        for k in batch:
            tries += 1
            if k not in seen:
                seen.add(k)
                ids.append(k)
                if len(ids) == s:
                    break
    return np.array(ids, dtype=np.int64), tries


def log_expected_count(ids, v, s, tries):
    p = torch.log((ids.double() + 2) / (ids.double() + 1)) / math.log(v + 1)
    count = p * s if tries == s else -torch.expm1(tries * torch.log1p(-p))
    return torch.log(count).float()


def uniform(shape, bound, device):
    return ((torch.rand(shape, device=device) * 2 - 1) * bound).requires_grad_(True)



def main():
    device = "cuda"
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    h = (torch.rand(N, P, device=device) * 2 - 1).requires_grad_(True)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, N={N}, P={P}")

    full_t = torch.from_numpy(log_uniform(rng, FULL_V, N)).to(device)
    full_w = uniform((FULL_V, P), 1 / math.sqrt(P), device)
    full_b = uniform((FULL_V,), 1 / math.sqrt(P), device)

    def full_step():
        h.grad = full_w.grad = full_b.grad = None
        loss = F.cross_entropy(h @ full_w.t() + full_b, full_t)
        loss.backward()
        return loss.item()

    large_t = torch.from_numpy(log_uniform(rng, LARGE_V, N)).to(device)
    sm_w = uniform((LARGE_V, P), 1 / math.sqrt(P), device)
    sm_b = uniform((LARGE_V, 1), 1, device)
    pool = []
    for _ in range(8):
        ids, tries = unique_sample(rng, LARGE_V, SAMPLES)
        ids = torch.from_numpy(ids).to(device)
        pool.append((ids, log_expected_count(ids, LARGE_V, SAMPLES, tries),
                     log_expected_count(large_t, LARGE_V, SAMPLES, tries)))
    calls = [0]

    def sampled_step():
        ids, sample_logq, true_logq = pool[calls[0] % len(pool)]
        calls[0] += 1
        h.grad = sm_w.grad = sm_b.grad = None
        true_w = F.embedding(large_t, sm_w, sparse=True)
        true_b = F.embedding(large_t, sm_b, sparse=True)[:, 0]
        sample_w = F.embedding(ids, sm_w, sparse=True)
        sample_b = F.embedding(ids, sm_b, sparse=True)[:, 0]
        true_logits = (h * true_w).sum(1) + true_b - true_logq
        sampled_logits = h @ sample_w.t() + sample_b - sample_logq
        sampled_logits = sampled_logits.masked_fill(large_t[:, None] == ids[None, :], -3.4e38)
        logits = torch.cat([true_logits[:, None], sampled_logits], 1)
        loss = F.cross_entropy(logits, torch.zeros(N, dtype=torch.long, device=device))
        loss.backward()
        return loss.item()

    adaptive = torch.nn.AdaptiveLogSoftmaxWithLoss(P, LARGE_V, CUTOFFS, div_value=DIV_VALUE).to(device)

    def adaptive_step():
        h.grad = None
        adaptive.zero_grad(set_to_none=True)
        out = adaptive(h, large_t)
        out.loss.backward()
        return out.loss.item()

    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        precision = "tf32" if tf32 else "fp32"
        for name, step in (("full V=50000", full_step), ("sampled V=793471 S=8192", sampled_step),
                           ("adaptive V=793471 cutoffs=[4000,40000,200000] div=4", adaptive_step)):
            print(f"{precision} {name}: forward+backward {median_ms(step):.3f} ms")


if __name__ == "__main__":
    main()
