namespace IlgpuElmo.Model;

/// <summary>
/// The device memory that training a model of given options needs at least, known before anything is
/// allocated: every parameter with its gradient and the optimizer's state (Adagrad one slot, Adam two),
/// plus the activations the LSTMs save for the backward pass over one window (gates, cell and output per
/// layer, direction, step and stream). Workspaces (softmax logits, the char CNN's) come on top, so a
/// model this refuses cannot fit.
/// </summary>
public sealed record TrainingMemoryEstimate(long Parameters, long ParameterBytes, long ActivationBytes)
{
    public long TotalBytes => ParameterBytes + ActivationBytes;

    /// <summary>The estimate for <paramref name="options"/> over <paramref name="vocabularySize"/> words, each rank training <paramref name="streams"/> streams.</summary>
    public static TrainingMemoryEstimate For(BilmOptions options, int vocabularySize, int streams)
    {
        long parameters = ParameterCount(options, vocabularySize);
        int optimizerSlots = options.Optimizer == OptimizerKind.Adam ? 2 : 1;
        var l = options.Lstm;
        long perPosition = 2L * l.NLayers * (6L * l.Dim + options.TokenDim);
        long activations = perPosition * streams * options.UnrollSteps;
        return new TrainingMemoryEstimate(parameters, checked(parameters * sizeof(float) * (2 + optimizerSlots)), checked(activations * sizeof(float)));
    }

    /// <summary>Exactly the number of values in the model's parameters (<see cref="BidirectionalLanguageModel.Parameters"/>).</summary>
    public static long ParameterCount(BilmOptions options, int vocabularySize)
    {
        long p = options.TokenDim;
        long encoder;
        if (options.CharCnn is { } c)
        {
            long d = c.EmbeddingDim, f = c.NFilters;
            encoder = Encoders.CharacterMapper.TableRows * d + c.Filters.Sum(w => w.Width * d * w.Count + w.Count)
                + c.NHighway * 2 * (f * f + f) + (f != p ? f * p + p : 0);
        }
        else encoder = vocabularySize * p;

        var l = options.Lstm;
        long lstm = 2L * l.NLayers * ((p + p) * 4L * l.Dim + 4L * l.Dim + l.Dim * p);

        var softmax = options.EffectiveSoftmax;
        long head;
        if (softmax.Kind != SoftmaxKind.Adaptive) head = vocabularySize * (p + 1);
        else
        {
            int[] bounds = [.. softmax.Cutoffs, vocabularySize];
            head = (bounds[0] + softmax.Cutoffs.Count) * p;
            for (int i = 0; i < softmax.Cutoffs.Count; i++)
            {
                long features = Softmax.AdaptiveSoftmaxHead.ProjectionSize((int)p, softmax.DivValue, i);
                head += features * p + (bounds[i + 1] - bounds[i]) * features;
            }
        }
        return checked(encoder + lstm + head);
    }
}
