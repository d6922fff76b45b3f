using IlgpuElmo.Data;
using IlgpuElmo.Encoders;
using IlgpuElmo.Kernels;
using IlgpuElmo.Layers;
using IlgpuElmo.Softmax;
using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Model;

/// <summary>
/// ELMo's biLM (Peters et al. 2018): a context-free token encoder (character CNN with highway layers
/// and a projection, or a word embedding) shared by both directions; n LSTM-with-projection layers per
/// direction with cell and projection clipping and residual links; a softmax over the vocabulary
/// shared by both directions, predicting the next token forward and the previous token backward.
/// Training reads bilm-tf's two streams (the backward one is the text reversed sentence by sentence),
/// so each direction's stack runs over its own stream and carries its own state between windows;
/// embedding runs the backward stack right to left within each sentence (<see cref="BidirectionalLstm"/>).
/// </summary>
public sealed partial class BidirectionalLanguageModel : ILanguageModelTrainee, ISentenceEmbedder, IDisposable
{
    readonly ComputeDevice device;
    readonly EmbeddingKernels tableRows;
    readonly ElementwiseKernels elementwise;
    readonly Workspace workspace;
    readonly LstmState trainState;
    readonly int trainBatch;
    readonly CharacterMapper characters = new();
    /// <summary>Host staging of a window's or a batch's ids (reused, grown only for a larger one).</summary>
    int[] windowHost = [];

    /// <summary>Distinct tokens the encoder's buffers hold (<see cref="ReserveEncoder"/>).</summary>
    int encoderTokensReserved;

    /// <summary>Host copy of an embedding batch's layers (reused, grown only for a larger batch).</summary>
    float[] embedHost = [];
    bool trainingWorkspaceReserved;

    BidirectionalLanguageModel(ComputeDevice device, BilmOptions options, Vocabulary vocabulary, StreamRows? trainStreams = null)
    {
        this.device = device;
        Options = options;
        Vocabulary = vocabulary;
        tableRows = device.Kernels(rt => new EmbeddingKernels(rt));
        elementwise = device.Kernels(rt => new ElementwiseKernels(rt));
        workspace = new Workspace(device);
        var l = options.Lstm;
        int p = options.TokenDim;
        Encoder = options.CharCnn is { } cnn
            ? new CharacterEncoder(device, cnn, p)
            : new WordEmbeddingEncoder(device, vocabulary.Count, p);
        Lstm = new BidirectionalLstm(device, l.NLayers, p, l.Dim, p, l.CellClip, l.ProjClip, l.UseSkipConnections);
        var softmax = options.EffectiveSoftmax;
        Head = softmax.Kind switch
        {
            SoftmaxKind.Full => new FullSoftmaxHead(device, vocabulary.Count, p),
            SoftmaxKind.Sampled => new SampledSoftmaxHead(device, vocabulary.Count, p, Math.Min(options.NNegativeSamplesBatch, vocabulary.Count - 1), options.Seed),
            _ => new AdaptiveSoftmaxHead(device, vocabulary.Count, p, softmax.Cutoffs, softmax.DivValue),
        };
        TrainStreams = trainStreams ?? StreamRows.All(options.BatchSize);
        if (TrainStreams.Global != options.BatchSize)
            throw new ArgumentException($"The training streams' global count {TrainStreams.Global} must be batch_size {options.BatchSize}.");
        trainBatch = TrainStreams.Local;
        trainState = Lstm.CreateState(trainBatch);
    }

    public BilmOptions Options { get; }
    public Vocabulary Vocabulary { get; }
    public ITokenEncoder Encoder { get; }
    public BidirectionalLstm Lstm { get; }
    public ISoftmaxHead Head { get; }

    /// <summary>
    /// False for published weights loaded without their softmax (bilm-tf publishes none): the head is then
    /// as initialised, and neither a perplexity nor an exported softmax of it would mean anything.
    /// </summary>
    public bool SoftmaxTrained { get; private set; } = true;

    /// <summary>
    /// Precomputed token vectors (bilm-tf's dump_token_embeddings): when set, inference looks layer 0 up
    /// instead of running the character CNN whenever the cache holds every token of a batch.
    /// </summary>
    public TokenVectorCache? TokenCache { get; set; }

    public IEnumerable<Parameter> Parameters => Encoder.Parameters.Concat(Lstm.Parameters).Concat(Head.Parameters);

    /// <summary>
    /// When set (`elmo train --freeze`), training leaves the token encoder as it is: its backward is
    /// skipped and <see cref="TrainableParameters"/> leaves it out, so only the LSTMs and the softmax learn.
    /// </summary>
    public bool EncoderFrozen { get; set; }

    /// <summary>The parameters the optimizer updates: all of them, or all but the encoder's when it is frozen.</summary>
    public IEnumerable<Parameter> TrainableParameters => EncoderFrozen ? Lstm.Parameters.Concat(Head.Parameters) : Parameters;

    public string TrainingLossName => Head is SampledSoftmaxHead ? "sampled softmax loss" : "cross-entropy";
    public bool TrainingLossIsExact => Head is not SampledSoftmaxHead;

    public IEnumerable<(string Name, DeviceTensor<float> Tensor)> StateTensors =>
        [("lstm/h", trainState.AllH), ("lstm/c", trainState.AllC)];

    /// <summary>Which of the global batch's batch_size streams this model trains on (a data-parallel replica's share; all of them otherwise).</summary>
    public StreamRows TrainStreams { get; }

    /// <summary>
    /// A new model with freshly initialised weights (seeded by the options' seed); <paramref name="trainStreams"/>
    /// is a data-parallel replica's share of the batch's streams (null: all).
    /// </summary>
    public static BidirectionalLanguageModel Create(ComputeDevice device, BilmOptions options, Vocabulary vocabulary, StreamRows? trainStreams = null)
    {
        var model = new BidirectionalLanguageModel(device, options, vocabulary, trainStreams);
        model.Initialize(options.Seed);
        return model;
    }

    /// <summary>A line describing the model's shape and size for logs.</summary>
    public string Describe()
    {
        long count = Parameters.Sum(p => p.Value.Length);
        string encoder = Options.CharCnn is { } c
            ? $"char CNN ({c.NFilters} filters, {c.NHighway} highway) -> {Options.TokenDim}"
            : $"word embedding {Vocabulary.Count} x {Options.TokenDim}";
        var s = Options.EffectiveSoftmax;
        string head = s.Kind switch
        {
            SoftmaxKind.Sampled => $"sampled softmax ({Math.Min(Options.NNegativeSamplesBatch, Vocabulary.Count - 1)} negatives)",
            SoftmaxKind.Adaptive => $"adaptive softmax (cutoffs {string.Join(",", s.Cutoffs)}, div {s.DivValue})",
            _ => "full softmax",
        };
        return $"{encoder}; {Options.Lstm.NLayers} x LSTM {Options.Lstm.Dim}/{Options.Lstm.ProjectionDim} per direction; " +
               $"{head} over {Vocabulary.Count} words; {count / 1e6:F2}M parameters";
    }

    void Initialize(ulong seed)
    {
        if (Encoder is CharacterEncoder chars) chars.Initialize((int)(seed & 0x7fffffff));
        else foreach (var p in Encoder.Parameters) ParameterInit.Uniform(device, p, Math.Sqrt(3.0 / p.Shape[1]), seed);
        foreach (var layer in Lstm.Directions.SelectMany(d => d.Layers))
        {
            ParameterInit.Glorot(device, layer.Kernel, layer.Kernel.Shape[0], layer.Kernel.Shape[1], seed);
            ParameterInit.Constant(device, layer.Bias, 0f);
            ParameterInit.Glorot(device, layer.Projection, layer.Projection.Shape[0], layer.Projection.Shape[1], seed);
        }
        foreach (var p in Head.Parameters)
        {
            if (p.Shape.Rank == 1) ParameterInit.Constant(device, p, 0f);
            else ParameterInit.Uniform(device, p, 1.0 / Math.Sqrt(p.Shape[1]), seed);
        }
    }

    public void Dispose()
    {
        trainState.Dispose();
        workspace.Dispose();
        (Encoder as IDisposable)?.Dispose();
        Lstm.Dispose();
        Head.Dispose();
    }
}
