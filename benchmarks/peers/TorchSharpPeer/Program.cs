using System.Diagnostics;
using TorchSharp;
using TorchSharpPeer;
using static TorchSharp.torch;

// The LibTorch (TorchSharp 0.107, LibTorch 2.10 CPU) peer of `elmo bench`; see README.md beside this file.
//   train --variant libtorch|clipped [--steps 20] [--warmup 3] [--vocab-size 19423] [--threads 2]
//   check --variant libtorch|clipped [--steps 30] [--vocab-size 19423] [--threads 2]
//   embed --variant libtorch|clipped [--sentences 64] [--steps 3] [--warmup 1] [--threads 2]
var mode = args.FirstOrDefault() ?? "";
string Option(string name, string fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}
var variant = Option("--variant", "libtorch");
if (variant is not ("libtorch" or "clipped") || mode is not ("train" or "check" or "embed"))
{
    Console.Error.WriteLine("usage: TorchSharpPeer train|check|embed --variant libtorch|clipped [--steps N] [--warmup N] [--vocab-size V] [--sentences N] [--threads N]");
    return 2;
}
int threads = int.Parse(Option("--threads", "2"));
torch.set_num_threads(threads);
torch.manual_seed(1);
bool clipped = variant == "clipped";
string cell = clipped ? "hand-written clipped cell" : "LibTorch LSTM-with-projection kernel";

if (mode == "embed")
{
    int count = int.Parse(Option("--sentences", "64")), reps = int.Parse(Option("--steps", "3")), warmup = int.Parse(Option("--warmup", "1"));
    var sentences = SyntheticText.Sentences(count, 793_471);
    int tokens = sentences.Sum(s => s.Length);
    var model = new Bilm(BilmShape.ElmoOriginal, clipped, vocabulary: null);
    Console.WriteLine($"peer elmo-original ({cell}), {model.Parameters.Count / 1e6:F2}M parameters, {threads} threads");
    double Time()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var watch = Stopwatch.StartNew();
        model.Embed(sentences);
        return watch.Elapsed.TotalSeconds;
    }
    for (int i = 0; i < warmup; i++) Time();
    double seconds = Enumerable.Range(0, reps).Sum(_ => Time());
    Console.WriteLine($"embed {count} sentences ({tokens} tokens) x {reps}: {seconds / reps * 1000:F1} ms/batch, {tokens * reps / seconds:F1} tokens/s");
    return 0;
}

int vocabulary = int.Parse(Option("--vocab-size", "19423"));
const int Steps = 20, Batch = 64;
var bilm = new Bilm(BilmShape.CpuSmall, clipped, vocabulary);
var optimizer = torch.optim.Adam(bilm.Parameters.All, lr: 0.002);
Console.WriteLine($"peer cpu-small ({cell}), {bilm.Parameters.Count / 1e6:F2}M parameters, V {vocabulary}, {threads} threads");
(float, float) Step(SyntheticText.Window window)
{
    using var scope = torch.NewDisposeScope();
    var losses = bilm.Loss(window, Steps, Batch, dropout: 0.1, out var loss);
    optimizer.zero_grad();
    loss.backward();
    torch.nn.utils.clip_grad_norm_(bilm.Parameters.All, 10);
    optimizer.step();
    bilm.DetachStates();
    return losses;
}

if (mode == "check")
{
    // The same model: first losses near 2 ln V (sum of both directions), falling when one batch repeats.
    int n = int.Parse(Option("--steps", "30"));
    var window = SyntheticText.TrainingWindows(vocabulary, Steps, Batch).First();
    float first = 0, last = 0;
    for (int i = 0; i < n; i++)
    {
        var (f, b) = Step(window);
        if (i == 0) first = f + b;
        last = f + b;
        Console.WriteLine($"step {i}: forward {f:F3} backward {b:F3} sum {f + b:F3}");
    }
    double expected = 2 * Math.Log(vocabulary);
    bool near = Math.Abs(first - expected) < 0.1 * expected, falling = last < first - 1;
    Console.WriteLine($"first sum {first:F3} vs 2 ln V = {expected:F3} ({(near ? "near" : "FAR")}); after {n} repeats {last:F3} ({(falling ? "falling" : "NOT falling")})");
    return near && falling ? 0 : 1;
}

{
    int steps = int.Parse(Option("--steps", "20")), warmup = int.Parse(Option("--warmup", "3"));
    using var windows = SyntheticText.TrainingWindows(vocabulary, Steps, Batch).GetEnumerator();
    SyntheticText.Window Next() { windows.MoveNext(); return windows.Current; }
    for (int i = 0; i < warmup; i++) Step(Next());
    var watch = Stopwatch.StartNew();
    for (int i = 0; i < steps; i++) Step(Next());
    double ms = watch.Elapsed.TotalMilliseconds / steps;
    Console.WriteLine($"{steps} steps of {2 * Steps * Batch} tokens: {ms:F1} ms/step, {2 * Steps * Batch / (ms / 1000):F0} tokens/s");
    return 0;
}
