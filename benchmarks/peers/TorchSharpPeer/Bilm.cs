using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TorchSharpPeer;

/// <summary>Model shape: the project's presets cpu-small (training) and elmo-original (embedding).</summary>
sealed record BilmShape(int CharDim, (int Width, int Filters)[] Filters, int Highways, int Hidden, int Projection, int Layers)
{
    public static BilmShape CpuSmall => new(8, [(1, 32), (2, 32), (3, 64), (4, 64)], 1, 256, 128, 2);
    public static BilmShape ElmoOriginal => new(16, [(1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024)], 2, 4096, 512, 2);
}

/// <summary>
/// ELMo's biLM as the project trains it: char CNN over the window's distinct tokens, per direction a stack
/// of LSTM-with-projection layers (dropout on every layer's input, residual from layer 1 on), dropout on
/// the top, adaptive softmax; LSTM states carried from window to window.
/// </summary>
sealed class Bilm
{
    readonly BilmShape shape;
    readonly CharCnn encoder;
    readonly ILstmLayer[][] directions;
    readonly AdaptiveSoftmax? softmax;
    Tensor[][]? states;

    public Bilm(BilmShape shape, bool clippedCell, int? vocabulary)
    {
        this.shape = shape;
        encoder = new CharCnn(Parameters, shape.CharDim, shape.Filters, shape.Highways, shape.Projection);
        directions = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, shape.Layers).Select(ILstmLayer (_) => clippedCell
            ? new ClippedLstmLayer(Parameters, shape.Projection, shape.Hidden, shape.Projection, 3, 3)
            : new LibTorchLstmLayer(Parameters, shape.Projection, shape.Hidden, shape.Projection)).ToArray()).ToArray();
        if (vocabulary is int v) softmax = new AdaptiveSoftmax(Parameters, v, shape.Projection, [1000, 6000], 4);
    }

    public ParameterList Parameters { get; } = new();

    /// <summary>[2, T, B, P]: token vectors of both directions' inputs, the char CNN run once per distinct token.</summary>
    Tensor Encode(string[] forward, string[] backward, int steps, int batch)
    {
        var all = forward.Concat(backward).ToArray();
        var unique = all.Distinct().ToArray();
        var index = unique.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => (long)x.i);
        var ids = torch.tensor(SyntheticText.CharacterIds(unique)).view(unique.Length, 50);
        var positions = torch.tensor(all.Select(t => index[t]).ToArray());
        return encoder.Forward(ids).index_select(0, positions).view(2, steps, batch, shape.Projection);
    }

    /// <summary>One direction's stack over [T, B, P]; every layer's output, the top last.</summary>
    List<Tensor> RunStack(int direction, Tensor input, double dropout, bool training)
    {
        var outputs = new List<Tensor>();
        var x = input;
        for (int k = 0; k < shape.Layers; k++)
        {
            var layerInput = dropout > 0 ? F.dropout(x, dropout, training) : x;
            var h = states![direction][2 * k];
            var c = states[direction][2 * k + 1];
            var y = directions[direction][k].Forward(layerInput, ref h, ref c);
            states[direction][2 * k] = h;
            states[direction][2 * k + 1] = c;
            x = k >= 1 ? y + layerInput : y;
            outputs.Add(x);
        }
        return outputs;
    }

    void ZeroStates(int batch) =>
        states = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, shape.Layers)
            .SelectMany(_ => new[] { torch.zeros(batch, shape.Projection), torch.zeros(batch, shape.Hidden) }).ToArray()).ToArray();

    /// <summary>Forward and backward of one window; returns (forward, backward) mean losses. Call inside a dispose scope.</summary>
    public (float Forward, float Backward) Loss(SyntheticText.Window window, int steps, int batch, double dropout, out Tensor loss)
    {
        if (states is null) ZeroStates(batch);
        var input = Encode(window.ForwardTokens, window.BackwardTokens, steps, batch);
        var losses = new Tensor[2];
        for (int d = 0; d < 2; d++)
        {
            var top = RunStack(d, input[d], dropout, training: true)[^1];
            top = F.dropout(top, dropout, true).view(steps * batch, shape.Projection);
            losses[d] = softmax!.Loss(top, d == 0 ? window.ForwardTargets : window.BackwardTargets);
        }
        loss = 0.5 * (losses[0] + losses[1]);
        return (losses[0].item<float>(), losses[1].item<float>());
    }

    /// <summary>Carried states leave the step's graph and its dispose scope.</summary>
    public void DetachStates()
    {
        foreach (var direction in states!)
            for (int i = 0; i < direction.Length; i++) direction[i] = direction[i].detach().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Every layer for each sentence ([layers + 1, tokens, 2P], as `elmo embed` writes), each wrapped in
    /// &lt;S&gt; .. &lt;/S&gt;, zero states, padded rows run to the longest; the backward direction reads each row
    /// reversed within its length. Call inside no_grad and a dispose scope.
    /// </summary>
    public float[][] Embed(string[][] sentences)
    {
        int batch = sentences.Length, steps = sentences.Max(s => s.Length) + 2, p = shape.Projection;
        var forward = new string[steps * batch];
        var backward = new string[steps * batch];
        Array.Fill(forward, "</S>");
        Array.Fill(backward, "</S>");
        var reverse = new long[steps * batch];
        for (int b = 0; b < batch; b++)
        {
            var wrapped = sentences[b].Prepend("<S>").Append("</S>").ToArray();
            for (int t = 0; t < steps; t++)
            {
                reverse[t * batch + b] = (t < wrapped.Length ? wrapped.Length - 1 - t : t) * batch + b;
                if (t < wrapped.Length) { forward[t * batch + b] = wrapped[t]; backward[t * batch + b] = wrapped[wrapped.Length - 1 - t]; }
            }
        }
        ZeroStates(batch);
        var input = Encode(forward, backward, steps, batch);
        var reverseIndex = torch.tensor(reverse);
        var layers = new List<Tensor> { torch.cat([input[0], input[0]], 2) };
        var forwardOutputs = RunStack(0, input[0], 0, training: false);
        var backwardOutputs = RunStack(1, input[1], 0, training: false);
        for (int k = 0; k < shape.Layers; k++)
        {
            var backwardInForwardOrder = backwardOutputs[k].view(steps * batch, p).index_select(0, reverseIndex).view(steps, batch, p);
            layers.Add(torch.cat([forwardOutputs[k], backwardInForwardOrder], 2));
        }
        var all = torch.stack(layers, 0).permute(2, 0, 1, 3).contiguous(); // [B, layers, T, 2P]
        var host = all.data<float>().ToArray();
        long perRow = (long)layers.Count * steps * 2 * p;
        return Enumerable.Range(0, batch).Select(b =>
        {
            int tokens = sentences[b].Length;
            var result = new float[layers.Count * tokens * 2 * p];
            for (int l = 0; l < layers.Count; l++)
                Array.Copy(host, b * perRow + ((long)l * steps + 1) * 2 * p, result, (long)l * tokens * 2 * p, (long)tokens * 2 * p);
            return result;
        }).ToArray();
    }
}
