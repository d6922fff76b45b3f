"""PyTorch peer of `elmo bench --preset elmo-original --vocab-size 793471`: one whole biLM training step at
the published ELMo's size, both directions, timed the same way (median ms/step, CUDA synchronised after
each step, which reads the step's losses back as ours does).

The model, as ours builds it (BidirectionalLanguageModel):
  char CNN      char embedding 262 x 16 (row 0 zero), filters (1,32) (2,32) (3,64) (4,128) (5,256) (6,512)
                (7,1024), max over positions, relu, 2 highway layers, projection 2048 -> 512; run once per
                distinct token of the window (as ours), then gathered to the window's positions
  LSTM          per direction 2 layers of LSTM 4096 cells projected to 512, the residual around layer 2,
                dropout 0.1 on every layer's input and on the top output, states carried between windows
  softmax       sampled softmax over 793,471 words, 8192 unique log-uniform negatives per direction (drawn
                before the timed loop with softmax_peer.py's sampler), weights and biases looked up sparsely
  optimizer     global-norm clip at 10, Adagrad 0.2 with initial accumulator 1 (sparse rows for the softmax)
  window        batch 128 x 20 steps per direction; words w3 .. w793470 drawn log-uniformly (elmo bench's
                synthetic text; the same distribution, not the same draws)
Variants:
  cudnn         each LSTM layer is cuDNN's nn.LSTM(512, 4096, proj_size=512): no cell or projection clipping
  clipped       the LSTM cell written out with ELMo's clips (cell and projection at 3), as ours computes it:
                the input projection of all steps in one GEMM, then per step the recurrent GEMM and the cell
Both with TF32 off (fp32) and on (tf32), for cuBLAS and cuDNN. Prints per variant and precision the median
ms/step over the timed steps, positions/s (batch x unroll, what `elmo bench` calls positions) and the
distinct tokens per window.

Run on the GPU machine:  python3 benchmarks/peers/bilm_peer.py [--steps 10] [--warmup 3]
"""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from encoder_peer import CharCnn  # the same char CNN at the same published size (its FILTERS, 16, 2 highways, 512)
from softmax_peer import log_expected_count, unique_sample
from timing import median_ms

B, T, P, H = 128, 20, 512, 4096
V, SAMPLES = 793_471, 8192
MAX_CHARS = 50
DROPOUT, CLIP, NORM_CLIP = 0.1, 3.0, 10.0
BOW, EOW, PAD = 259, 260, 261  # bilm-tf's beginning/end of word and padding characters, shifted by one


def char_ids(word):
    """The 50 character ids of a word, as CharacterMapper writes them."""
    ids = [PAD] * MAX_CHARS
    data = word.encode("utf-8")[:MAX_CHARS - 2]
    ids[0] = BOW
    for k, byte in enumerate(data):
        ids[k + 1] = byte + 1
    ids[len(data) + 1] = EOW
    return ids


def zipf_ids(rng, n):
    """elmo bench's ids: log-uniform over [3, V)."""
    return np.minimum(V - 1, 3 + (np.exp(rng.random(n) * math.log(V - 2)) - 1).astype(np.int64))


class ClippedLstmLayer(nn.Module):
    """LSTM with projection and ELMo's clips: c = clip(f c + i g, 3), h = clip((o tanh c) W_p, 3)."""

    def __init__(self):
        super().__init__()
        bound = 1 / math.sqrt(H)
        self.w_x = nn.Parameter(torch.empty(P, 4 * H).uniform_(-bound, bound))
        self.w_h = nn.Parameter(torch.empty(P, 4 * H).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(4 * H))
        self.w_p = nn.Parameter(torch.empty(H, P).uniform_(-bound, bound))

    def forward(self, x, state):
        h, c = state
        gates_x = torch.addmm(self.bias, x.reshape(T * B, P), self.w_x).view(T, B, 4 * H)
        outputs = []
        for t in range(T):
            i, f, g, o = (gates_x[t] + h @ self.w_h).chunk(4, dim=1)
            c = torch.clamp(torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(g), -CLIP, CLIP)
            h = torch.clamp((torch.sigmoid(o) * torch.tanh(c)) @ self.w_p, -CLIP, CLIP)
            outputs.append(h)
        return torch.stack(outputs), (h, c)


class CudnnLstmLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(P, H, proj_size=P)

    def forward(self, x, state):
        h, c = state
        y, (h, c) = self.lstm(x, (h[None], c[None]))
        return y, (h[0], c[0])


class Bilm(nn.Module):
    def __init__(self, clipped):
        super().__init__()
        self.encoder = CharCnn()
        layer = ClippedLstmLayer if clipped else CudnnLstmLayer
        self.layers = nn.ModuleList(nn.ModuleList(layer() for _ in range(2)) for _ in range(2))
        bound = 1 / math.sqrt(P)
        self.softmax_w = nn.Parameter(torch.empty(V, P).uniform_(-bound, bound))
        self.softmax_b = nn.Parameter(torch.zeros(V, 1))

    def direction(self, d, x, states):
        for k, layer in enumerate(self.layers[d]):
            layer_input = F.dropout(x, DROPOUT, True)
            y, states[k] = layer(layer_input, states[k])
            x = y + layer_input if k > 0 else y
        return F.dropout(x, DROPOUT, True)

    def sampled_loss(self, top, targets, sample):
        ids, sample_logq, true_logq = sample
        hidden = top.reshape(T * B, P)
        true_w = F.embedding(targets, self.softmax_w, sparse=True)
        true_b = F.embedding(targets, self.softmax_b, sparse=True)[:, 0]
        sample_w = F.embedding(ids, self.softmax_w, sparse=True)
        sample_b = F.embedding(ids, self.softmax_b, sparse=True)[:, 0]
        true_logits = (hidden * true_w).sum(1) + true_b - true_logq
        sampled_logits = hidden @ sample_w.t() + sample_b - sample_logq
        sampled_logits = sampled_logits.masked_fill(targets[:, None] == ids[None, :], -3.4e38)
        logits = torch.cat([true_logits[:, None], sampled_logits], 1)
        return F.cross_entropy(logits, torch.zeros(T * B, dtype=torch.long, device=hidden.device))


def global_norm_clip(parameters, clip):
    """tf.clip_by_global_norm without a host wait: sparse gradients count (and are scaled) by their values."""
    grads = [p.grad for p in parameters if p.grad is not None]
    squares = [(g.coalesce().values() if g.is_sparse else g).pow(2).sum() for g in grads]
    norm = torch.sqrt(torch.stack(squares).sum())
    scale = torch.clamp(clip / (norm + 1e-6), max=1.0)
    for g in grads:
        (g._values() if g.is_sparse else g).mul_(scale)
    return norm


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant and precision")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bilm_peer.py needs a CUDA GPU (torch.cuda.is_available() is False).")
    device = torch.device("cuda")
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name()}, "
          f"batch {B} x {T} x 2 directions, LSTM {H}/{P}, sampled softmax {SAMPLES} of {V}")

    windows = []
    for _ in range(4):
        words = zipf_ids(rng, 2 * T * B)
        unique, inverse = np.unique(words, return_inverse=True)
        chars = torch.tensor([char_ids(f"w{w}") for w in unique], device=device)
        targets = [torch.from_numpy(zipf_ids(rng, T * B)).to(device) for _ in range(2)]
        windows.append((chars, torch.from_numpy(inverse).to(device), targets, len(unique)))
    samples = []
    for _ in range(8):
        ids, tries = unique_sample(rng, V, SAMPLES)
        ids = torch.tensor(ids, device=device)
        samples.append((ids, log_expected_count(ids, V, SAMPLES, tries), tries))

    for clipped in (False, True):
        model = Bilm(clipped).to(device)
        sparse = [model.softmax_w, model.softmax_b]
        dense = [p for p in model.parameters() if all(p is not s for s in sparse)]
        optimizers = [torch.optim.Adagrad(dense, lr=0.2, initial_accumulator_value=1.0),
                      torch.optim.Adagrad(sparse, lr=0.2, initial_accumulator_value=1.0)]
        states = [[(torch.zeros(B, P, device=device), torch.zeros(B, H, device=device)) for _ in range(2)] for _ in range(2)]
        calls = [0]

        def step():
            chars, inverse, targets, _ = windows[calls[0] % len(windows)]
            for o in optimizers:
                o.zero_grad(set_to_none=True)
            tokens = model.encoder(chars)[inverse].view(2, T, B, P)
            losses = []
            for d in range(2):
                ids, sample_logq, tries = samples[(2 * calls[0] + d) % len(samples)]
                carried = [(h.detach(), c.detach()) for h, c in states[d]]
                top = model.direction(d, tokens[d], carried)
                states[d] = carried
                true_logq = log_expected_count(targets[d], V, SAMPLES, tries)
                losses.append(model.sampled_loss(top, targets[d], (ids, sample_logq, true_logq)))
            (0.5 * (losses[0] + losses[1])).backward()
            global_norm_clip(model.parameters(), NORM_CLIP)
            for o in optimizers:
                o.step()
            calls[0] += 1
            return losses[0].item() + losses[1].item()

        variant = "clipped" if clipped else "cudnn"
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            precision = "tf32" if tf32 else "fp32"
            ms = median_ms(step, warmup=args.warmup, runs=args.steps)
            distinct = sum(w[3] for w in windows) / len(windows)
            print(f"{variant} {precision} training step: {ms:.1f} ms/step, {B * T / (ms / 1e3):.0f} positions/s "
                  f"({args.steps} timed steps after {args.warmup}; {distinct:.0f} distinct tokens per window)")
        del model, optimizers, states
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
