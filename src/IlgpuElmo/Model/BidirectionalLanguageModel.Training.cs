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

    /// <summary>Zeroes the LSTM states carried between training windows (a fresh start of the streams).</summary>
    public void ResetStates() => trainState.Clear(device.Stream);

    public (double Forward, double Backward) TrainStep(LmBatch batch, long step, ulong seed)
    {
        if (batch.BatchSize != trainBatch)
            throw new ArgumentException($"Training batches must have batch_size {trainBatch} rows (the carried LSTM state's); got {batch.BatchSize}.");
        var s = device.Stream;
        int steps = batch.Steps, b = batch.BatchSize, n = steps * b, p = Options.TokenDim;
        Head.BeginStep(s);
        if (Head is SampledSoftmaxHead sampled) sampled.Calls = 2 * step; // one sample per direction per step
        var lengths = LengthsOf(batch.Lengths);
        var input = EncodeWindow(batch.ForwardTokens, batch.BackwardTokens, steps, b, out var positions, out var positionMap, training: true);
        float rate = Options.Dropout;
        var stacks = Lstm.Directions;
        stacks[0].Forward(s, input.Slice(0, steps), lengths, trainState, trainState, rate, seed);
        stacks[1].Forward(s, input.Slice(steps, steps), lengths, trainState, trainState, rate, seed ^ BackwardSeed);

        int countF = batch.Lengths.Sum(), countB = countF;
        double lossF = 0, lossB = 0;
        var topGradients = new DeviceTensor<float>[2];
        for (int d = 0; d < 2; d++)
        {
            var top = stacks[d].Output(Options.Lstm.NLayers - 1).Reshape(n, p);
            var dropped = workspace.Get<float>($"top{d}", n, p);
            var dropout = DropoutParams.Create(rate, d == 0 ? seed : seed ^ BackwardSeed, TopDropoutOffset);
            if (rate > 0) elementwise.Dropout(s, dropout, top.View, dropped.View);
            else elementwise.Copy(s, top.View, dropped.View);
            var targets = workspace.Get<int>($"targets{d}", n);
            targets.CopyFrom(s, d == 0 ? batch.ForwardTargets : batch.BackwardTargets);
            var gradTop = workspace.Get<float>($"gradTop{d}", n, p);
            double loss = Head.ForwardBackward(s, dropped, targets, gradTop, 0.5f / Math.Max(1, d == 0 ? countF : countB));
            if (rate > 0) elementwise.Dropout(s, dropout, gradTop.View, gradTop.View);
            topGradients[d] = gradTop.Reshape(steps, b, p);
            if (d == 0) lossF = loss; else lossB = loss;
        }

        var gradPositions = workspace.Get<float>("gradPositions", 2 * n, p);
        for (int d = 0; d < 2; d++)
        {
            var gradients = new DeviceTensor<float>?[Options.Lstm.NLayers];
            gradients[^1] = topGradients[d];
            var gradInput = stacks[d].Backward(s, gradients);
            elementwise.Copy(s, gradInput.View, gradPositions.View.SubView((long)d * n * p, (long)n * p));
        }
        BackwardEncoder(positions, positionMap, gradPositions);
        return (lossF / Math.Max(1, countF), lossB / Math.Max(1, countB));
    }

    public (double Forward, double Backward, long Tokens) Evaluate(LmBatcher batcher, IProgress<long>? progress = null)
    {
        var s = device.Stream;
        LstmState? state = null;
        double lossF = 0, lossB = 0;
        long tokens = 0;
        try
        {
            for (var batch = batcher.Next(); batch is not null; batch = batcher.Next())
            {
                int steps = batch.Steps, b = batch.BatchSize, n = steps * b, p = Options.TokenDim;
                state ??= Lstm.CreateState(b);
                var lengths = LengthsOf(batch.Lengths);
                var input = EncodeWindow(batch.ForwardTokens, batch.BackwardTokens, steps, b, out _, out _);
                for (int d = 0; d < 2; d++)
                {
                    var stack = Lstm.Directions[d];
                    stack.Forward(s, input.Slice(d * steps, steps), lengths, state, state);
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
        out TokenPositions positions, out DeviceTensor<int> positionMap, bool training = false)
    {
        var s = device.Stream;
        int n = steps * b, p = Options.TokenDim;
        var all = new string[2 * n];
        forwardTokens.CopyTo(all, 0);
        backwardTokens.CopyTo(all, n);
        positions = new TokenPositions(all);
        var encoded = EncodeTokens(positions.Unique, training);
        positionMap = workspace.Get<int>("positionMap", 2 * n);
        positionMap.CopyFrom(s, positions.Map);
        var input = workspace.Get<float>("windowInput", 2 * steps, b, p);
        tableRows.Gather(s, encoded.View, p, positionMap.View, input.View);
        return input;
    }

    /// <summary>
    /// The token vectors [U, P] of distinct tokens (a workspace view valid until the next call): looked up
    /// in the token-vector cache when it holds every one of them (inference only), else from the encoder.
    /// </summary>
    DeviceTensor<float> EncodeTokens(IReadOnlyList<string> tokens, bool training = false)
    {
        var s = device.Stream;
        int u = tokens.Count, p = Options.TokenDim;
        var output = workspace.Get<float>("encoded", u, p);
        if (!training && TokenCache is { } cache && tokens.All(t => cache.TryGetRow(t, out _)))
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
            var ids = new int[tokens.Count * CharacterMapper.MaxCharacters];
            characters.Write(tokens.ToList()!, ids);
            var chars = workspace.Get<int>("charIds", tokens.Count, CharacterMapper.MaxCharacters);
            chars.CopyFrom(s, ids);
            return chars;
        }
        var wordIds = tokens.Select(Vocabulary.IdOf).ToArray();
        ((WordEmbeddingEncoder)Encoder).Prepare(s, wordIds);
        var words = workspace.Get<int>("wordIds", tokens.Count);
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
