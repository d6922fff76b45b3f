using IlgpuElmo.Encoders;
using IlgpuElmo.Data;
using IlgpuElmo.Model;

namespace IlgpuElmo.Tests.Model;

/// <summary>Tiny biLM options and corpora for model-level tests.</summary>
public static class TinyModels
{
    public static BilmOptions Options(bool chars, SoftmaxKind softmax = SoftmaxKind.Full, float dropout = 0f, int batch = 3, int steps = 5) => new(
        CharCnn: chars ? new CharCnnOptions(8, [new(1, 8), new(2, 8), new(3, 16)], 1, 262, 50, CharActivation.Relu) : null,
        Lstm: new LstmOptions(12, 8, 2, 3f, 3f, true),
        Dropout: dropout,
        BatchSize: batch,
        UnrollSteps: steps,
        NNegativeSamplesBatch: 20,
        Softmax: new SoftmaxOptions(softmax, softmax == SoftmaxKind.Adaptive ? [6, 12] : [], 2f),
        Optimizer: OptimizerKind.Adagrad,
        LearningRate: 0.2f,
        Seed: 7);

    /// <summary>A corpus with strong regularities: "the cat sat on the mat ." and variations.</summary>
    public static string Corpus(TempDirectory temp, int sentences = 60, int seed = 1)
    {
        var random = new Random(seed);
        string[] subjects = ["the cat", "a dog", "the bird", "my friend"];
        string[] verbs = ["sat on", "looked at", "ran to", "slept near"];
        string[] objects = ["the mat", "a tree", "the house", "her car"];
        var lines = Enumerable.Range(0, sentences).Select(_ =>
            $"{subjects[random.Next(4)]} {verbs[random.Next(4)]} {objects[random.Next(4)]} .");
        return temp.File($"corpus{seed}.txt", string.Join("\n", lines) + "\n");
    }

    public static Vocabulary VocabularyOf(string file) => Vocabulary.Build([file], 1, new SentenceReader()).vocab;
}
