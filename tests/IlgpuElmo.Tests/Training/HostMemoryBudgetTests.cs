using IlgpuElmo.Data;
using IlgpuElmo.Kernels;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Tests.Training;

/// <summary>
/// Host execution maps no fresh memory step after step or batch after batch: once the first step (or the
/// longest batch) has sized the buffers, the workspace allocates nothing (device buffers are host memory
/// there) and the host allocates no large object (85 KB or more: what the GC backs with new pages; small
/// objects such as tensor views and launch closures are recycled in place). Counted at the cpu-small model's
/// size, where a window's ids or any per-position array would be a large object, so a step that allocated
/// one would fail here (<see cref="LargeAllocationsTests"/> shows the instrument sees a 92 KB array).
/// </summary>
public class HostMemoryBudgetTests
{
    const int VocabularySize = 5000;

    static (BidirectionalLanguageModel Model, List<string> Words) CpuSmall(int batchSize = 64)
    {
        var words = new List<string> { Vocabulary.Bos, Vocabulary.Eos, Vocabulary.Unk };
        for (int i = 3; i < VocabularySize; i++) words.Add($"w{i}");
        var options = ModelPresets.CpuSmall with
        {
            NTokensVocab = VocabularySize,
            BatchSize = batchSize,
            Softmax = ModelPresets.CpuSmall.EffectiveSoftmax.FitTo(VocabularySize),
        };
        return (BidirectionalLanguageModel.Create(TestDevices.Host, options, new Vocabulary(words)), words);
    }

    /// <summary>Zipf-like word ids, as `elmo bench` draws them: many distinct tokens per window.</summary>
    static int Zipf(Random random) => Math.Min(VocabularySize - 1, 3 + (int)(Math.Exp(random.NextDouble() * Math.Log(VocabularySize - 2)) - 1));

    [Fact]
    public void TrainingStepsAfterTheFirstAllocateNoWorkspaceAndNoLargeHostMemory()
    {
        var device = TestDevices.Host;
        var (model, words) = CpuSmall();
        using var _ = model;
        var options = model.Options;
        using var optimizer = new Optimizer(device, model.Parameters, new OptimizerOptions(options.Optimizer, options.EffectiveLearningRate));
        using var scalars = new StepScalars(device);
        var random = new Random(3);
        var batches = Enumerable.Range(0, 4).Select(_ =>
        {
            var batch = new LmBatch(options.UnrollSteps, options.BatchSize);
            for (int i = 0; i < batch.ForwardInputs.Length; i++)
            {
                int f = Zipf(random), b = Zipf(random);
                (batch.ForwardInputs[i], batch.ForwardTokens[i], batch.ForwardTargets[i]) = (f, words[f], Zipf(random));
                (batch.BackwardInputs[i], batch.BackwardTokens[i], batch.BackwardTargets[i]) = (b, words[b], Zipf(random));
            }
            Array.Fill(batch.Lengths, batch.Steps);
            return batch;
        }).ToList();
        Assert.True(batches.All(b => b.ForwardTokens.Concat(b.BackwardTokens).Distinct().Count() > 450),
            "premise: a window's character ids (50 ints per distinct token) are a large object");
        void Step(int i)
        {
            model.TrainStep(batches[i], i, (ulong)i, scalars);
            optimizer.ClipAndStep(10f, scalars.NormAndScale);
            scalars.Read(device.Stream);
        }

        Step(0);
        var before = device.Counters.Read();
        var (bytes, types) = LargeAllocations.During(() =>
        {
            for (int i = 1; i < batches.Count; i++) Step(i);
        });
        Assert.Equal(0, (device.Counters.Read() - before).Allocations);
        Assert.True(bytes < 85_000, $"steps 2-4 allocated {bytes} bytes of large objects ({string.Join(", ", types)})");
    }

    [Fact]
    public void EmbeddingBatchesAfterTheLongestAllocateNoWorkspaceAndNoLargeHostMemory()
    {
        var device = TestDevices.Host;
        var (model, _) = CpuSmall();
        using var __ = model;
        var random = new Random(4);
        string[][] Sentences(int count, int longest) => Enumerable.Range(0, count)
            .Select(s => Enumerable.Range(0, s == 0 ? longest : 5 + random.Next(longest - 5)).Select(_ => $"w{Zipf(random)}").ToArray()).ToArray();
        var output = new EmbeddingBatch();
        model.Embed(Sentences(32, 45), null, output);
        int growths = output.Growths;
        var later = new[] { Sentences(32, 45), Sentences(20, 30), Sentences(32, 40) };
        Assert.True(output.Sentence(0).Length * 4 >= 85_000, "premise: one sentence's vectors are a large object");

        var before = device.Counters.Read();
        var (bytes, types) = LargeAllocations.During(() =>
        {
            foreach (var batch in later) model.Embed(batch, null, output);
        });
        Assert.Equal(0, (device.Counters.Read() - before).Allocations);
        Assert.Equal(growths, output.Growths);
        Assert.True(bytes < 85_000, $"batches 2-4 allocated {bytes} bytes of large objects ({string.Join(", ", types)})");
        Assert.Equal(32, output.Count);
    }
}
