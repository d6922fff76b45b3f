using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TorchSharpPeer;

/// <summary>Every trainable tensor of the peer, in one list for Adam and clipping.</summary>
sealed class ParameterList
{
    public List<Parameter> All { get; } = [];

    /// <summary>A new parameter, uniform in +-scale (torch's default for linear layers: 1/sqrt(fan_in)).</summary>
    public Parameter Uniform(double scale, params long[] shape)
    {
        var p = new Parameter(torch.empty(shape).uniform_(-scale, scale));
        All.Add(p);
        return p;
    }

    public long Count => All.Sum(p => p.numel());
}

/// <summary>bilm-tf's char CNN: char embedding, one conv per width, max over positions, ReLU; highways; projection.</summary>
sealed class CharCnn
{
    readonly Parameter embedding, projection, projectionBias;
    readonly (Parameter W, Parameter B)[] convolutions;
    readonly (Parameter CarryW, Parameter CarryB, Parameter TransformW, Parameter TransformB)[] highways;

    public CharCnn(ParameterList parameters, int charDim, (int Width, int Filters)[] filters, int highwayCount, int outputSize)
    {
        embedding = parameters.Uniform(1.0, 262, charDim);
        convolutions = filters.Select(f => (parameters.Uniform(1 / Math.Sqrt(charDim * f.Width), f.Filters, charDim, f.Width),
            parameters.Uniform(1 / Math.Sqrt(charDim * f.Width), f.Filters))).ToArray();
        int total = filters.Sum(f => f.Filters);
        double s = 1 / Math.Sqrt(total);
        highways = Enumerable.Range(0, highwayCount).Select(_ => (parameters.Uniform(s, total, total), parameters.Uniform(s, total),
            parameters.Uniform(s, total, total), parameters.Uniform(s, total))).ToArray();
        projection = parameters.Uniform(s, outputSize, total);
        projectionBias = parameters.Uniform(s, outputSize);
    }

    /// <summary>[U, P] from character ids [U, 50] (int64).</summary>
    public Tensor Forward(Tensor ids)
    {
        long u = ids.shape[0], chars = ids.shape[1];
        var x = embedding.index_select(0, ids.flatten()).view(u, chars, -1).transpose(1, 2);
        var pooled = convolutions.Select(c => F.relu(F.conv1d(x, c.W, c.B).max(2).values)).ToList();
        var h = torch.cat(pooled, 1);
        foreach (var (carryW, carryB, transformW, transformB) in highways)
        {
            var carry = torch.sigmoid(F.linear(h, carryW, carryB));
            h = carry * F.relu(F.linear(h, transformW, transformB)) + (1 - carry) * h;
        }
        return F.linear(h, projection, projectionBias);
    }
}

/// <summary>One direction's LSTM-with-projection layer over a window: [T, B, in] -> [T, B, P], state carried in (h, c).</summary>
interface ILstmLayer
{
    Tensor Forward(Tensor input, ref Tensor h, ref Tensor c);
}

/// <summary>LibTorch's LSTM-with-projection kernel (no clipping), through <see cref="AtenLstm"/>.</summary>
sealed class LibTorchLstmLayer(ParameterList parameters, int input, int hidden, int projection) : ILstmLayer
{
    readonly Tensor[] weights =
    [
        parameters.Uniform(1 / Math.Sqrt(hidden), 4 * hidden, input), parameters.Uniform(1 / Math.Sqrt(hidden), 4 * hidden, projection),
        parameters.Uniform(1 / Math.Sqrt(hidden), 4 * hidden), parameters.Uniform(1 / Math.Sqrt(hidden), 4 * hidden),
        parameters.Uniform(1 / Math.Sqrt(hidden), projection, hidden),
    ];

    public Tensor Forward(Tensor input, ref Tensor h, ref Tensor c)
    {
        var (output, hn, cn) = AtenLstm.Forward(input, h.unsqueeze(0), c.unsqueeze(0), weights);
        h = hn.squeeze(0);
        c = cn.squeeze(0);
        return output;
    }
}

/// <summary>
/// The cell this project computes (bilm-tf's LSTMCell): gates = x W_x + h W_h + b (forget bias 1 added),
/// c = clip(f c + i g, 3), h = clip((o tanh c) W_p, 3); the input projection for all steps in one GEMM.
/// </summary>
sealed class ClippedLstmLayer(ParameterList parameters, int input, int hidden, int projection, double cellClip, double projectionClip) : ILstmLayer
{
    readonly Parameter inputWeight = parameters.Uniform(1 / Math.Sqrt(hidden), 4 * hidden, input);
    readonly Parameter recurrentWeight = parameters.Uniform(1 / Math.Sqrt(hidden), 4 * hidden, projection);
    readonly Parameter bias = parameters.Uniform(1 / Math.Sqrt(hidden), 4 * hidden);
    readonly Parameter projectionWeight = parameters.Uniform(1 / Math.Sqrt(hidden), projection, hidden);

    public Tensor Forward(Tensor input, ref Tensor h, ref Tensor c)
    {
        var inputGates = F.linear(input, inputWeight, bias);
        var outputs = new List<Tensor>();
        for (long t = 0; t < input.shape[0]; t++)
        {
            var gates = (inputGates[t] + F.linear(h, recurrentWeight)).chunk(4, 1);
            c = (torch.sigmoid(gates[1] + 1) * c + torch.sigmoid(gates[0]) * torch.tanh(gates[2])).clamp(-cellClip, cellClip);
            h = F.linear(torch.sigmoid(gates[3]) * torch.tanh(c), projectionWeight).clamp(-projectionClip, projectionClip);
            outputs.Add(h);
        }
        return torch.stack(outputs, 0);
    }
}

/// <summary>
/// torch.nn.AdaptiveLogSoftmaxWithLoss written out (head without bias, tails proj -> W without biases), the
/// semantics of the project's AdaptiveSoftmaxHead: each cluster scores only its own rows.
/// </summary>
sealed class AdaptiveSoftmax
{
    readonly int[] bounds;
    readonly Parameter head;
    readonly (Parameter Projection, Parameter W)[] tails;

    public AdaptiveSoftmax(ParameterList parameters, int vocabulary, int inputSize, int[] cutoffs, double divValue)
    {
        bounds = [.. cutoffs, vocabulary];
        double s = 1 / Math.Sqrt(inputSize);
        head = parameters.Uniform(s, cutoffs[0] + cutoffs.Length, inputSize);
        tails = Enumerable.Range(0, cutoffs.Length).Select(i =>
        {
            int features = (int)Math.Floor(inputSize / Math.Pow(divValue, i + 1));
            return (parameters.Uniform(s, features, inputSize), parameters.Uniform(1 / Math.Sqrt(features), bounds[i + 1] - bounds[i], features));
        }).ToArray();
    }

    /// <summary>Mean negative log-likelihood of targets (host ints) under hidden [N, P].</summary>
    public Tensor Loss(Tensor hidden, int[] targets)
    {
        var headLogProbs = F.log_softmax(F.linear(hidden, head), 1);
        var shortRows = Enumerable.Range(0, targets.Length).Where(r => targets[r] < bounds[0]).ToArray();
        var total = -Pick(headLogProbs, shortRows, shortRows.Select(r => (long)targets[r]).ToArray()).sum();
        for (int i = 0; i < tails.Length; i++)
        {
            int low = bounds[i], high = bounds[i + 1];
            var rows = Enumerable.Range(0, targets.Length).Where(r => targets[r] >= low && targets[r] < high).ToArray();
            if (rows.Length == 0) continue;
            var rowIndex = torch.tensor(rows.Select(r => (long)r).ToArray());
            var tail = F.log_softmax(F.linear(F.linear(hidden.index_select(0, rowIndex), tails[i].Projection), tails[i].W), 1);
            var within = tail.gather(1, torch.tensor(rows.Select(r => (long)(targets[r] - low)).ToArray()).unsqueeze(1));
            var clusterColumn = headLogProbs.index_select(0, rowIndex).select(1, bounds[0] + i);
            total -= (within.squeeze(1) + clusterColumn).sum();
        }
        return total / targets.Length;
    }

    static Tensor Pick(Tensor logProbs, int[] rows, long[] columns) =>
        logProbs.index_select(0, torch.tensor(rows.Select(r => (long)r).ToArray())).gather(1, torch.tensor(columns).unsqueeze(1));
}
