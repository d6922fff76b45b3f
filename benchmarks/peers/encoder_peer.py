"""PyTorch peer for EmbeddingBenchmarks and CharCnnBenchmarks (same sizes, same counting).

Run on the GPU machine next to `dotnet run -c Release --project benchmarks/IlgpuElmo.Benchmarks --
--inprocess --filter '*EmbeddingBenchmarks*' '*CharCnnBenchmarks*'`:

    python3 benchmarks/peers/encoder_peer.py

Prints one line per measurement: the median time over timed repetitions (CUDA events, after warm-up),
and for the embedding ops GB/s counted as bytes read + written exactly as EmbeddingBenchmarks does:
gather = ids + 2 * N rows; index_add_ = ids + 3 * N rows (gradient rows read, table rows read + written).
The char CNN is bilm-tf's (as in CharacterEncoder): embedding 262 x 16 with row 0 zero, one Conv1d per
filter group, max over positions, relu, 2 highway layers (t = sigmoid(x Wc + bc),
y = t * relu(x Wt + bt) + (1 - t) * x), projection 2048 -> 512; timed with fp32 and with TF32 allowed.
"""
import argparse
import statistics

import torch
import torch.nn as nn

ROWS, DIM, IDS = 100_000, 512, 65_536
FILTERS = [(1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024)]
MAX_CHARS, CHAR_DIM, HIGHWAYS, PROJECTION, TOKENS = 50, 16, 2, 512, 2560


def time_ms(fn, warmup=10, reps=50):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def embedding_benchmarks(device):
    g = torch.Generator(device="cpu").manual_seed(1)
    table = torch.rand(ROWS, DIM, generator=g).to(device)
    ids = torch.randint(0, ROWS, (IDS,), generator=g).to(device)
    grad = torch.rand(IDS, DIM, generator=g).to(device)
    table_grad = torch.zeros(ROWS, DIM, device=device)
    row = DIM * 4.0
    out = torch.empty(IDS, DIM, device=device)

    ms = time_ms(lambda: torch.index_select(table, 0, ids, out=out))
    print(f"gather index_select      {IDS} x {DIM} from {ROWS}: {ms * 1e3:9.1f} us  {(IDS * 4 + 2 * IDS * row) / (ms * 1e6):7.1f} GB/s")
    ms = time_ms(lambda: nn.functional.embedding(ids, table))
    print(f"gather F.embedding       {IDS} x {DIM} from {ROWS}: {ms * 1e3:9.1f} us  {(IDS * 4 + 2 * IDS * row) / (ms * 1e6):7.1f} GB/s")
    ms = time_ms(lambda: table_grad.index_add_(0, ids, grad))
    print(f"scatter index_add_       {IDS} x {DIM} into {ROWS}: {ms * 1e3:9.1f} us  {(IDS * 4 + 3 * IDS * row) / (ms * 1e6):7.1f} GB/s")


class CharCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.char_embed = nn.Embedding(262, CHAR_DIM, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(CHAR_DIM, n, w) for w, n in FILTERS)
        total = sum(n for _, n in FILTERS)
        self.carry = nn.ModuleList(nn.Linear(total, total) for _ in range(HIGHWAYS))
        self.transform = nn.ModuleList(nn.Linear(total, total) for _ in range(HIGHWAYS))
        self.proj = nn.Linear(total, PROJECTION)

    def forward(self, char_ids):
        x = self.char_embed(char_ids).transpose(1, 2)  # [N, d, 50]
        x = torch.cat([torch.relu(conv(x).max(dim=2).values) for conv in self.convs], dim=1)
        for carry, transform in zip(self.carry, self.transform):
            t = torch.sigmoid(carry(x))
            x = t * torch.relu(transform(x)) + (1 - t) * x
        return self.proj(x)


def char_cnn_benchmarks(device):
    g = torch.Generator(device="cpu").manual_seed(3)
    lengths = torch.randint(1, 13, (TOKENS,), generator=g)
    ids = torch.full((TOKENS, MAX_CHARS), 261, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        ids[i, 0] = 259
        ids[i, 1:n + 1] = torch.randint(98, 124, (n,), generator=g)
        ids[i, n + 1] = 260
    ids = ids.to(device)
    model = CharCnn().to(device)
    grad_out = (torch.rand(TOKENS, PROJECTION, generator=g) - 0.5).to(device)

    def forward():
        return model(ids)

    def forward_backward():
        model(ids).backward(grad_out)

    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        label = "tf32" if tf32 else "fp32"
        print(f"char CNN forward          {TOKENS} tokens ({label}): {time_ms(forward) * 1e3:9.1f} us")
        print(f"char CNN forward+backward {TOKENS} tokens ({label}): {time_ms(forward_backward) * 1e3:9.1f} us")


def main():
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("encoder_peer.py needs a CUDA GPU (torch.cuda.is_available() is False).")
    device = torch.device("cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, cuDNN {torch.backends.cudnn.version()}")
    embedding_benchmarks(device)
    char_cnn_benchmarks(device)


if __name__ == "__main__":
    main()
