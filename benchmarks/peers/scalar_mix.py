"""PyTorch peer of ScalarMixBenchmarks: allennlp's ScalarMix arithmetic (softmax-weighted sum, optional
layer norm over unmasked elements) on 3 layers of [T=50, B=64, D=1024] (time-major, as ours), forward
and forward+backward, with and without layer norm. Prints one line per case: median milliseconds
over 200 timed runs after 20 warm-up runs, CUDA-synchronised.

Run on the GPU machine:  python3 benchmarks/peers/scalar_mix.py
"""

import torch

from timing import median_ms


def scalar_mix(layers, mask, s, gamma, layer_norm):
    w = torch.softmax(s, dim=0)
    if not layer_norm:
        return gamma * (w[:, None, None, None] * layers).sum(0)
    m = mask.float().unsqueeze(-1)
    count = m.sum() * layers.shape[-1]
    out = 0
    for l in range(layers.shape[0]):
        x = layers[l]
        mean = (x * m).sum() / count
        var = (((x * m) - mean) * m).pow(2).sum() / count
        out = out + w[l] * (x - mean) / torch.sqrt(var + 1e-12)
    return gamma * out



def main():
    device = "cuda"
    t, b, d = 50, 64, 1024
    torch.manual_seed(1)
    layers = (torch.rand(3, t, b, d, device=device) - 0.5).requires_grad_(True)
    grad_out = torch.rand(t, b, d, device=device) - 0.5
    lengths = torch.tensor([5 + i * (t - 5) // (b - 1) for i in range(b)], device=device)
    mask = torch.arange(t, device=device)[:, None] < lengths[None, :]
    s = torch.tensor([0.1, 0.2, 0.3], device=device, requires_grad=True)
    gamma = torch.ones(1, device=device, requires_grad=True)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, layers [3, {t}, {b}, {d}]")
    for layer_norm in (False, True):
        with torch.no_grad():
            fwd = median_ms(lambda: scalar_mix(layers, mask, s, gamma, layer_norm))

        def fwd_bwd():
            out = scalar_mix(layers, mask, s, gamma, layer_norm)
            out.backward(grad_out)

        both = median_ms(fwd_bwd)
        print(f"scalar_mix layer_norm={layer_norm}: forward {fwd:.3f} ms, forward+backward {both:.3f} ms")


if __name__ == "__main__":
    main()
