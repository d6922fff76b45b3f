using IlgpuElmo.Data;
using IlgpuElmo.Encoders;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Softmax;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Model;

public sealed partial class BidirectionalLanguageModel
{
    /// <summary>Seed offsets so the two directions and the softmax input draw independent dropout masks.</summary>
    const ulong BackwardSeed = 0x9E3779B97F4A7C15UL;
    const long TopDropoutOffset = 1L << 40;

    /// <summary>When set, <see cref="TrainStep"/> marks its phases on it (encoder, LSTM and softmax, forward and backward): `elmo bench`'s breakdown.</summary>
    public StepPhaseTimes? Phases { get; set; }

    /// <summary>Zeroes the LSTM states carried between training windows (a fresh start of the streams).</summary>
    public void ResetStates() => trainState.Clear(device.Stream);

    /// <summary>
    /// One training window, enqueued without a host wait: the window's ids, targets and lengths go up in one
    /// copy; the encoder runs once over the distinct tokens; the two directions' LSTM stacks run at once
    /// (<see cref="BidirectionalLstm.ForwardBothStreams"/>: two streams ordered by device events, forked after
    /// the encoder, joined before the shared softmax head, forked again for the backward pass and joined
    /// before the encoder's backward); the head writes each direction's mean loss into <paramref name="scalars"/>.
    /// </summary>
    public void TrainStep(LmBatch batch, long step, ulong seed, StepScalars scalars)
    {
        if (batch.BatchSize != trainBatch || batch.Steps > Options.UnrollSteps)
            throw new ArgumentException(
                $"Training batches must have batch_size {trainBatch} rows (the carried LSTM state's) and at most unroll_steps {Options.UnrollSteps} " +
                $"steps; got {batch.BatchSize} x {batch.Steps}.");
        ReserveTrainingWorkspace();
        Phases?.Begin();
        var s = device.Stream;
        int steps = batch.Steps, b = batch.BatchSize, n = steps * b, p = Options.TokenDim;
        Head.BeginStep(s);
        if (Head is SampledSoftmaxHead sampled) sampled.Calls = 2 * step; // one sample per direction per step
        var window = UploadWindow(batch);
        var input = EncodeUploadedWindow(window, steps, b);
        Phases?.Mark("encoder forward");
        float rate = Options.Dropout;
        var stacks = Lstm.Directions;
        Lstm.ForwardBothStreams(input, window.Lengths, trainState, rate, seed, seed ^ BackwardSeed, TrainStreams);
        Phases?.Mark("LSTM forward");

        // The mean over the whole batch's targets: a replica's share of the loss and gradients, which sum to one device's.
        int count = Math.Max(1, batch.GlobalTargetCount);
        var topGradients = new DeviceTensor<float>[2];
        for (int d = 0; d < 2; d++)
        {
            var top = stacks[d].Output(Options.Lstm.NLayers - 1).Reshape(n, p);
            var dropped = workspace.Get<float>($"top{d}", n, p);
            var dropout = DropoutParams.Create(rate, d == 0 ? seed : seed ^ BackwardSeed, TopDropoutOffset, TrainStreams, p);
            if (rate > 0) elementwise.Dropout(s, dropout, top.View, dropped.View);
            else elementwise.Copy(s, top.View, dropped.View);
            var gradTop = workspace.Get<float>($"gradTop{d}", n, p);
            var targets = new TrainingTargets(d == 0 ? batch.ForwardTargets : batch.BackwardTargets, window.Targets[d]);
            var loss = new LossOutput(d == 0 ? scalars.LossForward : scalars.LossBackward, 1f / count);
            Head.ForwardBackward(s, dropped, targets, gradTop, 0.5f / count, loss);
            if (rate > 0) elementwise.Dropout(s, dropout, gradTop.View, gradTop.View);
            topGradients[d] = gradTop.Reshape(steps, b, p);
        }

        Phases?.Mark("softmax head, forward and backward");
        var gradPositions = workspace.Get<float>("gradPositions", 2 * steps, b, p);
        Lstm.BackwardBothStreams(topGradients[0], topGradients[1], gradPositions);
        Phases?.Mark("LSTM backward");
        if (!EncoderFrozen) BackwardEncoder(window.Positions, window.PositionMap, gradPositions);
        Phases?.Mark("encoder backward");
    }

    public (double Forward, double Backward, long Tokens) Evaluate(LmBatcher batcher, IProgress<long>? progress = null, CancellationToken cancel = default)
    {
        var s = device.Stream;
        LstmState? state = null;
        double lossF = 0, lossB = 0;
        long tokens = 0;
        try
        {
            for (var batch = batcher.Next(); batch is not null; batch = batcher.Next())
            {
                cancel.ThrowIfCancellationRequested();
                int steps = batch.Steps, b = batch.BatchSize, n = steps * b, p = Options.TokenDim;
                state ??= Lstm.CreateState(b);
                var lengths = LengthsOf(batch.Lengths);
                var input = EncodeWindow(batch.ForwardTokens, batch.BackwardTokens, steps, b, out _, out _);
                Lstm.ForwardBothStreams(input, lengths, state, 0f, 0, 0);
                for (int d = 0; d < 2; d++)
                {
                    var stack = Lstm.Directions[d];
                    var targets = workspace.Get<int>($"targets{d}", n);
                    targets.CopyFrom(s, d == 0 ? batch.ForwardTargets : batch.BackwardTargets);
                    double loss = Head.Loss(s, stack.Output(Options.Lstm.NLayers - 1).Reshape(n, p), targets);
                    if (d == 0) lossF += loss; else lossB += loss;
                }
                tokens += batch.TargetCount;
                progress?.Report(tokens);
            }
        }
        finally
        {
            state?.Dispose();
        }
        if (tokens == 0) throw new InputException("The held-out corpus has no tokens.");
        return (lossF / tokens, lossB / tokens, tokens);
    }

    /// <summary>Row lengths on the device in a workspace buffer: no allocation per step.</summary>
    SequenceLengths LengthsOf(int[] host)
    {
        var onDevice = workspace.Get<int>("lengths", host.Length);
        onDevice.CopyFrom(device.Stream, host);
        return new SequenceLengths(host, onDevice);
    }

    /// <summary>
    /// Token vectors for a window of both streams: [2T, B, P], forward positions first (time-major), then
    /// backward. The encoder runs once per distinct token; positions gather from its output.
    /// </summary>
    DeviceTensor<float> EncodeWindow(string[] forwardTokens, string[] backwardTokens, int steps, int b,
        out TokenPositions positions, out DeviceTensor<int> positionMap)
    {
        var s = device.Stream;
        int n = steps * b, p = Options.TokenDim;
        positions = WindowPositions(forwardTokens, backwardTokens, n);
        var encoded = EncodeTokens(positions.Unique);
        positionMap = workspace.Get<int>("positionMap", 2 * n);
        positionMap.CopyFrom(s, positions.Map);
        var input = workspace.Get<float>("windowInput", 2 * steps, b, p);
        tableRows.Gather(s, encoded.View, p, positionMap.View, input.View);
        return input;
    }

    static TokenPositions WindowPositions(string[] forwardTokens, string[] backwardTokens, int n)
    {
        var all = new string[2 * n];
        forwardTokens.CopyTo(all, 0);
        backwardTokens.CopyTo(all, n);
        return new TokenPositions(all);
    }

    /// <summary>A training window's device inputs, all views of one buffer that went up in one copy.</summary>
    sealed record UploadedWindow(TokenPositions Positions, SequenceLengths Lengths, DeviceTensor<int>[] Targets,
        DeviceTensor<int> PositionMap, DeviceTensor<int> EncoderIds);

    /// <summary>
    /// Packs the window's row lengths, both directions' targets, the position map and the encoder's ids
    /// (characters [U, 50] or words [U]) into one reused host array and uploads it in one copy.
    /// </summary>
    UploadedWindow UploadWindow(LmBatch batch)
    {
        var s = device.Stream;
        int b = batch.BatchSize, n = batch.Steps * b;
        var positions = WindowPositions(batch.ForwardTokens, batch.BackwardTokens, n);
        int u = positions.Unique.Count, idWidth = Options.CharCnn is null ? 1 : CharacterMapper.MaxCharacters;
        int lengthsAt = 0, targetsAt = b, mapAt = targetsAt + 2 * n, idsAt = mapAt + 2 * n, total = idsAt + u * idWidth;
        if (windowHost.Length < total) windowHost = new int[total];
        var host = windowHost.AsSpan(0, total);
        batch.Lengths.CopyTo(host.Slice(lengthsAt, b));
        batch.ForwardTargets.CopyTo(host.Slice(targetsAt, n));
        batch.BackwardTargets.CopyTo(host.Slice(targetsAt + n, n));
        positions.Map.CopyTo(host.Slice(mapAt, 2 * n));
        var ids = host.Slice(idsAt, u * idWidth);
        if (Options.CharCnn is not null) characters.Write(positions.Unique!, ids);
        else
        {
            for (int i = 0; i < u; i++) ids[i] = Vocabulary.IdOf(positions.Unique[i]);
            ((WordEmbeddingEncoder)Encoder).Prepare(s, ids.ToArray());
        }
        var packed = workspace.Get<int>("window", total);
        packed.CopyFrom(s, host);
        DeviceTensor<int> Part(int at, params int[] dims) =>
            DeviceTensor<int>.FromView(packed.View.SubView(at, new Shape(dims).Size), new Shape(dims));
        var encoderIds = Options.CharCnn is null ? Part(idsAt, u) : Part(idsAt, u, CharacterMapper.MaxCharacters);
        return new UploadedWindow(positions, new SequenceLengths(batch.Lengths, Part(lengthsAt, b)),
            [Part(targetsAt, n), Part(targetsAt + n, n)], Part(mapAt, 2 * n), encoderIds);
    }

    /// <summary>The window's token vectors [2T, B, P] from its uploaded ids (training: the encoder always runs).</summary>
    DeviceTensor<float> EncodeUploadedWindow(UploadedWindow window, int steps, int b)
    {
        var s = device.Stream;
        int p = Options.TokenDim;
        var encoded = workspace.Get<float>("encoded", window.Positions.Unique.Count, p);
        Encoder.Forward(s, window.EncoderIds, encoded);
        var input = workspace.Get<float>("windowInput", 2 * steps, b, p);
        tableRows.Gather(s, encoded.View, p, window.PositionMap.View, input.View);
        return input;
    }

    /// <summary>
    /// Sizes every buffer that depends on a window's distinct-token count for the most a window can have
    /// (2 x batch_size x unroll_steps), once, so training never reallocates (with a device-wide wait) when a
    /// window sets a new maximum: runs the encoder forward over that many (padding) tokens and backward with a
    /// zero gradient, which adds exactly zero to every parameter gradient.
    /// </summary>
    void ReserveTrainingWorkspace()
    {
        if (trainingWorkspaceReserved) return;
        trainingWorkspaceReserved = true;
        var s = device.Stream;
        int most = 2 * trainBatch * Options.UnrollSteps, p = Options.TokenDim;
        int idWidth = Options.CharCnn is null ? 1 : CharacterMapper.MaxCharacters;
        int windowInts = trainBatch + 4 * trainBatch * Options.UnrollSteps + most * idWidth;
        windowHost = new int[windowInts];
        var packed = workspace.Get<int>("window", windowInts);
        var ids = DeviceTensor<int>.FromView(packed.View.SubView(0, (long)most * idWidth), Options.CharCnn is null ? new Shape(most) : new Shape(most, idWidth));
        ids.Clear(s);
        if (Encoder is WordEmbeddingEncoder words) words.Prepare(s, new int[most]);
        var encoded = workspace.Get<float>("encoded", most, p);
        Encoder.Forward(s, ids, encoded);
        encoderTokensReserved = Math.Max(encoderTokensReserved, most);
        var gradEncoded = workspace.Get<float>("gradEncoded", most, p);
        gradEncoded.Clear(s);
        Encoder.Backward(s, gradEncoded);
        device.Staging.EnsureCapacity(StagingBytesPerStep(windowInts));
    }

    /// <summary>
    /// Sizes every buffer that depends on how many distinct tokens the encoder gets for <paramref name="tokens"/>
    /// of them, once (by running it forward over that many padding tokens), so inference whose batches have
    /// up to that many never reallocates: embedding's batches vary in distinct tokens, not only in length.
    /// </summary>
    void ReserveEncoder(int tokens)
    {
        if (tokens <= encoderTokensReserved || TokenCache is not null) return;
        var s = device.Stream;
        int idWidth = Options.CharCnn is null ? 1 : CharacterMapper.MaxCharacters;
        var ids = workspace.Get<int>(Options.CharCnn is null ? "wordIds" : "charIds", Options.CharCnn is null ? [tokens] : [tokens, idWidth]);
        ids.Clear(s);
        if (Encoder is WordEmbeddingEncoder words) words.Prepare(s, new int[tokens]);
        Encoder.Forward(s, ids, workspace.Get<float>("encoded", tokens, Options.TokenDim));
        if (windowHost.Length < tokens * idWidth) windowHost = new int[tokens * idWidth];
        encoderTokensReserved = tokens;
    }

    /// <summary>
    /// An upper bound on the bytes one training step stages for upload: the window's ints, and per softmax
    /// call the sampled head's row lists and log-expected counts and its touched rows (the other heads stage less).
    /// </summary>
    long StagingBytesPerStep(int windowInts)
    {
        long n = (long)trainBatch * Options.UnrollSteps, samples = Options.NNegativeSamplesBatch;
        long perCall = 2 * n + 3 * (samples + n) + 1 + n + samples + n + 2 * (samples + n);
        return 4L * (windowInts + 2 * perCall) + 16 * 256;
    }

    /// <summary>
    /// The token vectors [U, P] of distinct tokens (a workspace view valid until the next call): looked up
    /// in the token-vector cache when it holds every one of them (inference only), else from the encoder.
    /// </summary>
    DeviceTensor<float> EncodeTokens(IReadOnlyList<string> tokens)
    {
        var s = device.Stream;
        int u = tokens.Count, p = Options.TokenDim;
        var output = workspace.GetWithin<float>("encoded", (long)encoderTokensReserved * p, u, p);
        if (TokenCache is { } cache && tokens.All(t => cache.TryGetRow(t, out _)))
            cache.Lookup(s, tokens, output);
        else
            Encoder.Forward(s, EncoderInput(tokens), output);
        return output;
    }

    /// <summary>What the encoder reads for these tokens: character ids [U, 50] or word ids [U].</summary>
    DeviceTensor<int> EncoderInput(IReadOnlyList<string> tokens)
    {
        var s = device.Stream;
        if (Options.CharCnn is not null)
        {
            int length = tokens.Count * CharacterMapper.MaxCharacters;
            if (windowHost.Length < length) windowHost = new int[length];
            var ids = windowHost.AsSpan(0, length);
            characters.Write(tokens!, ids);
            var chars = workspace.GetWithin<int>("charIds", (long)encoderTokensReserved * CharacterMapper.MaxCharacters, tokens.Count, CharacterMapper.MaxCharacters);
            chars.CopyFrom(s, ids);
            return chars;
        }
        var wordIds = tokens.Select(Vocabulary.IdOf).ToArray();
        ((WordEmbeddingEncoder)Encoder).Prepare(s, wordIds);
        var words = workspace.GetWithin<int>("wordIds", encoderTokensReserved, tokens.Count);
        words.CopyFrom(s, wordIds);
        return words;
    }

    void BackwardEncoder(TokenPositions positions, DeviceTensor<int> positionMap, DeviceTensor<float> gradPositions)
    {
        var s = device.Stream;
        int u = positions.Unique.Count, p = Options.TokenDim;
        var gradEncoded = workspace.Get<float>("gradEncoded", u, p);
        gradEncoded.Clear(s);
        tableRows.ScatterAdd(s, gradPositions.View, p, positionMap.View, gradEncoded.View);
        Encoder.Backward(s, gradEncoded);
    }
}
