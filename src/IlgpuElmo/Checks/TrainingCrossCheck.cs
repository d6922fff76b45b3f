using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Encoders;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Checks;

/// <summary>
/// Training and embedding on a device against the CPU host path (`elmo selfcheck --train`): for each
/// softmax head a small model is built from a fixed seed on both, trained the same number of steps over the
/// same synthetic windows (Zipf-like word ids, one row cut short so padding and masking run, dropout on,
/// LSTM states carried between windows, both directions' streams as training runs them), and compared: each
/// step's two losses and gradient norm, then every parameter's change over the run. Then both models get the
/// host's final weights and embed the same sentences, and every layer's vectors are compared. Tolerances
/// depend on the GEMM precision asked (<see cref="CrossCheckTolerances"/>).
/// </summary>
public static class TrainingCrossCheck
{
    /// <summary>
    /// One model to check: a name, its options (the synthetic vocabulary's size in NTokensVocab) and what it
    /// exercises. Full softmax with the word encoder; sampled softmax with the char CNN (relu); adaptive
    /// softmax with the char CNN (tanh, no projection): together every head, both encoders, both activations.
    /// </summary>
    public sealed record Case(string Name, string Exercises, BilmOptions Options);

    /// <summary>The three cases at a size: <see cref="CrossCheckSize.Tiny"/> for the CPU simulation (tests), Small for a GPU.</summary>
    public static IReadOnlyList<Case> Cases(CrossCheckSize size)
    {
        bool tiny = size == CrossCheckSize.Tiny;
        int vocabulary = tiny ? 40 : 2000, batch = tiny ? 3 : 16, steps = tiny ? 5 : 10;
        var lstm = tiny ? new LstmOptions(12, 8, 2, 3f, 3f, true) : new LstmOptions(256, 64, 2, 3f, 3f, true);
        var filters = tiny ? new CnnFilter[] { new(1, 8), new(2, 8), new(3, 16) } : [new(1, 16), new(2, 16), new(3, 32), new(4, 64), new(5, 64)];
        var baseOptions = new BilmOptions(null, lstm, Dropout: 0.1f, NTokensVocab: vocabulary, NNegativeSamplesBatch: tiny ? 12 : 256,
            UnrollSteps: steps, BatchSize: batch, AllClipNormVal: 10f, Optimizer: OptimizerKind.Adagrad, LearningRate: 0.2f, Seed: 7);
        var relu = new CharCnnOptions(tiny ? 8 : 16, filters, tiny ? 1 : 2, 262, 50, CharActivation.Relu);
        // Filters summing to the projection width: the char CNN's output feeds the LSTM without CNN_proj.
        var tanh = relu with { Filters = [new(1, lstm.ProjectionDim / 2), new(3, lstm.ProjectionDim / 2)], Activation = CharActivation.Tanh };
        int[] cutoffs = tiny ? [6, 12] : [100, 600];
        return
        [
            new("full", "word embedding, full softmax", baseOptions with { Softmax = new SoftmaxOptions(SoftmaxKind.Full, [], 4f) }),
            new("sampled", "char CNN (relu, projection), sampled softmax", baseOptions with
                { CharCnn = relu, Softmax = new SoftmaxOptions(SoftmaxKind.Sampled, [], 4f) }),
            new("adaptive", "char CNN (tanh, no projection), adaptive softmax", baseOptions with
                { CharCnn = tanh, Softmax = new SoftmaxOptions(SoftmaxKind.Adaptive, cutoffs, 2f) }),
        ];
    }

    /// <summary>What one side computed: per step the two losses and the gradient norm, each parameter before and after, each embedding layer.</summary>
    public sealed record Trace(
        IReadOnlyList<StepValues> Steps,
        IReadOnlyDictionary<string, float[]> Initial,
        IReadOnlyDictionary<string, float[]> Final,
        IReadOnlyList<float[]> EmbeddingLayers);

    /// <summary>The comparison of one case: every quantity checked, the worst first among the failures.</summary>
    public sealed record Report(Case Case, int Steps, IReadOnlyList<CheckedQuantity> Quantities)
    {
        public bool Passed => Quantities.All(q => q.Passed);
        public CheckedQuantity Worst => Quantities.MaxBy(q => q.Severity)!;

        /// <summary>The largest error of each kind, in the order checked: "loss 1.2E-7, gradient norm ..., parameter change 2E-6 (lstm/...), embedding ...".</summary>
        public string WorstByKind() => string.Join(", ", Quantities.GroupBy(q => q.Kind).Select(g =>
        {
            var worst = g.MaxBy(q => q.Severity)!;
            return $"{g.Key} {CheckedQuantity.Format(worst.Error)}" + (g.Key == "parameter change" ? $" ({worst.Name["parameter ".Length..]})" : "");
        }));
    }

    /// <summary>
    /// Trains <paramref name="caseToCheck"/> for <paramref name="steps"/> steps on <paramref name="device"/> and on
    /// <paramref name="host"/>, embeds, and compares. <paramref name="injectFault"/> (tests) alters the device's
    /// model after training, before anything is read back: the check must then fail naming what it altered.
    /// </summary>
    public static Report Run(ComputeDevice device, ComputeDevice host, Case caseToCheck, int steps, CrossCheckTolerances tolerances,
        Action<BidirectionalLanguageModel>? injectFault = null)
    {
        if (steps < 1) throw new InputException($"--steps must be at least 1 (got {steps}).");
        var options = caseToCheck.Options;
        var vocabulary = SyntheticVocabulary(options.NTokensVocab!.Value);
        var windows = Windows(vocabulary, options, steps);
        var sentences = Sentences(vocabulary);
        using var hostModel = BidirectionalLanguageModel.Create(host, options, vocabulary);
        using var deviceModel = BidirectionalLanguageModel.Create(device, options, vocabulary);
        var hostTrace = Train(host, hostModel, windows, sentences, weightsFrom: null, injectFault: null);
        var deviceTrace = Train(device, deviceModel, windows, sentences, weightsFrom: hostTrace.Final, injectFault);
        return new Report(caseToCheck, steps, Compare(deviceTrace, hostTrace, tolerances));
    }

    /// <summary>
    /// Trains <paramref name="model"/> over the windows as the trainer does (step, clip and update, one read of
    /// the step's scalars), records its weights, then embeds the sentences with <paramref name="weightsFrom"/>'s
    /// weights when given (so the embedding comparison checks embedding, not the training's drift).
    /// </summary>
    static Trace Train(ComputeDevice device, BidirectionalLanguageModel model, IReadOnlyList<LmBatch> windows, IReadOnlyList<string[]> sentences,
        IReadOnlyDictionary<string, float[]>? weightsFrom, Action<BidirectionalLanguageModel>? injectFault)
    {
        var o = model.Options;
        var initial = Read(device, model);
        using var optimizer = new Optimizer(device, model.TrainableParameters, new OptimizerOptions(o.Optimizer, o.EffectiveLearningRate, o.InitialAccumulatorValue));
        using var scalars = new StepScalars(device);
        var values = new List<StepValues>();
        for (int step = 0; step < windows.Count; step++)
        {
            model.TrainStep(windows[step], step, (ulong)step + 1, scalars);
            optimizer.ClipAndStep(o.AllClipNormVal, scalars.NormAndScale);
            values.Add(scalars.Read(device.Stream));
        }
        injectFault?.Invoke(model);
        var final = Read(device, model);
        if (weightsFrom is not null)
            foreach (var p in model.Parameters) p.Value.CopyFrom(device.Stream, weightsFrom[p.Name]);
        var vectors = model.Embed(sentences);
        return new Trace(values, initial, final, EmbeddingLayers(vectors, sentences, model.LayerCount, model.Width));
    }

    static Dictionary<string, float[]> Read(ComputeDevice device, BidirectionalLanguageModel model) =>
        model.Parameters.ToDictionary(p => p.Name, p => p.Value.ToArray(device.Stream));

    /// <summary>Every sentence's vectors regrouped by layer: layer k's [tokens of all sentences, width].</summary>
    static List<float[]> EmbeddingLayers(IReadOnlyList<float[]> vectors, IReadOnlyList<string[]> sentences, int layers, int width)
    {
        var result = new List<float[]>();
        for (int k = 0; k < layers; k++)
        {
            var layer = new List<float>();
            for (int s = 0; s < sentences.Count; s++)
            {
                int n = sentences[s].Length;
                layer.AddRange(vectors[s].AsSpan(k * n * width, n * width).ToArray());
            }
            result.Add(layer.ToArray());
        }
        return result;
    }

    static List<CheckedQuantity> Compare(Trace device, Trace host, CrossCheckTolerances t)
    {
        var quantities = new List<CheckedQuantity>();
        for (int s = 0; s < host.Steps.Count; s++)
        {
            var d = device.Steps[s];
            var h = host.Steps[s];
            quantities.Add(new("loss", $"step {s + 1} loss forward", CheckedQuantity.RelativeError(d.LossForward, h.LossForward), t.Loss));
            quantities.Add(new("loss", $"step {s + 1} loss backward", CheckedQuantity.RelativeError(d.LossBackward, h.LossBackward), t.Loss));
            quantities.Add(new("gradient norm", $"step {s + 1} gradient norm", CheckedQuantity.RelativeError(d.GradientNorm, h.GradientNorm), t.GradientNorm));
        }
        foreach (var (name, final) in host.Final)
            quantities.Add(new("parameter change", $"parameter {name}", CheckedQuantity.ChangeError(device.Final[name], final, host.Initial[name]), t.ParameterChange));
        for (int k = 0; k < host.EmbeddingLayers.Count; k++)
            quantities.Add(new("embedding", $"embed layer {k}", CheckedQuantity.NormwiseError(device.EmbeddingLayers[k], host.EmbeddingLayers[k]), t.Embedding));
        return quantities;
    }

    /// <summary>&lt;S&gt;, &lt;/S&gt;, &lt;UNK&gt;, then w3 .. w(V-1).</summary>
    static Vocabulary SyntheticVocabulary(int size)
    {
        var words = new List<string> { Vocabulary.Bos, Vocabulary.Eos, Vocabulary.Unk };
        for (int i = 3; i < size; i++) words.Add($"w{i}");
        return new Vocabulary(words);
    }

    /// <summary>
    /// <paramref name="steps"/> windows of Zipf-like word ids (Random(11)); in every window the last row stops
    /// two positions early (padded with &lt;/S&gt; and target -1, as the batcher pads the end of a pass).
    /// </summary>
    static List<LmBatch> Windows(Vocabulary vocabulary, BilmOptions options, int steps)
    {
        var random = new Random(11);
        var windows = new List<LmBatch>();
        for (int w = 0; w < steps; w++)
        {
            var batch = new LmBatch(options.UnrollSteps, options.BatchSize);
            for (int b = 0; b < batch.BatchSize; b++)
                batch.Lengths[b] = b == batch.BatchSize - 1 ? batch.Steps - 2 : batch.Steps;
            for (int t = 0; t < batch.Steps; t++)
                for (int b = 0; b < batch.BatchSize; b++)
                {
                    int at = t * batch.BatchSize + b;
                    bool real = t < batch.Lengths[b];
                    int forward = real ? ZipfId(random, vocabulary.Count) : vocabulary.EosId;
                    int backward = real ? ZipfId(random, vocabulary.Count) : vocabulary.EosId;
                    batch.ForwardInputs[at] = forward;
                    batch.ForwardTokens[at] = vocabulary.Words[forward];
                    batch.ForwardTargets[at] = real ? ZipfId(random, vocabulary.Count) : -1;
                    batch.BackwardInputs[at] = backward;
                    batch.BackwardTokens[at] = vocabulary.Words[backward];
                    batch.BackwardTargets[at] = real ? ZipfId(random, vocabulary.Count) : -1;
                }
            windows.Add(batch);
        }
        return windows;
    }

    /// <summary>Four sentences of 2 to 9 words, one of them unknown to the vocabulary (the char CNN still reads it).</summary>
    static List<string[]> Sentences(Vocabulary vocabulary)
    {
        var random = new Random(12);
        var sentences = new List<string[]>();
        foreach (int length in new[] { 7, 2, 9, 4 })
            sentences.Add(Enumerable.Range(0, length).Select(_ => vocabulary.Words[ZipfId(random, vocabulary.Count)]).ToArray());
        sentences[2][3] = "unseen-wörd";
        return sentences;
    }

    /// <summary>Log-uniform over [3, V), as a frequency-sorted vocabulary sees words.</summary>
    static int ZipfId(Random random, int vocabularySize) =>
        Math.Min(vocabularySize - 1, 3 + (int)(Math.Exp(random.NextDouble() * Math.Log(vocabularySize - 2)) - 1));
}

/// <summary>The cross-check's model size: tiny for ILGPU's CPU simulation (about a microsecond per GPU thread), small for a GPU.</summary>
public enum CrossCheckSize { Tiny, Small }
