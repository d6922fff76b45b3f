using ILGPU.Runtime;
using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Tensors;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Probing;

/// <summary>Every token's layer vectors on the device, [L, N, W], and its tag id (-1: a tag unseen in training).</summary>
public sealed class ProbeFeatures : IDisposable
{
    public required DeviceTensor<float> Layers { get; init; }
    public required int[] HostTags { get; init; }

    /// <summary>Per layer and feature, the mean and the sum of squares of the vectors, [L, W] each, in float64 (a host-side by-product of the embedding).</summary>
    public required FeatureMoments Moments { get; init; }

    public int Count => HostTags.Length;

    /// <summary>
    /// Embeds the sentences a chunk at a time, shortest first (a chunk is padded to its longest sentence,
    /// so chunks of similar lengths waste little), and copies each sentence's layers straight to its
    /// place in the device tensor (no host copy of the whole set: the train split's is gigabytes).
    /// </summary>
    public static ProbeFeatures Build(ComputeDevice device, ISentenceEmbedder embedder, IReadOnlyList<TaggedSentence> sentences,
        IReadOnlyDictionary<string, int> tagIds, string stage, IProgress<ProbeProgress>? progress)
    {
        int n = sentences.Sum(s => s.Words.Length), w = embedder.Width, l = embedder.LayerCount;
        var layers = device.Allocate<float>(new Shape(l, n, w), "probe features");
        var hostTags = new int[n];
        var moments = new FeatureMoments(l, w);
        var firstToken = new int[sentences.Count];
        for (int i = 1; i < sentences.Count; i++) firstToken[i] = firstToken[i - 1] + sentences[i - 1].Words.Length;
        var byLength = Enumerable.Range(0, sentences.Count).OrderBy(i => sentences[i].Words.Length).ToArray();
        int done = 0;
        const int chunk = 256;
        for (int start = 0; start < byLength.Length; start += chunk)
        {
            var part = byLength.AsSpan(start, Math.Min(chunk, byLength.Length - start)).ToArray();
            var vectors = embedder.Embed(part.Select(i => sentences[i].Words).ToList());
            for (int s = 0; s < part.Length; s++)
            {
                var sentence = sentences[part[s]];
                int tokens = sentence.Words.Length, at = firstToken[part[s]];
                for (int layer = 0; layer < l; layer++)
                {
                    var rows = vectors[s].AsSpan(layer * tokens * w, tokens * w);
                    layers.View.SubView(((long)layer * n + at) * w, (long)tokens * w).CopyFromCPU(device.Stream, rows);
                    moments.Add(layer, rows);
                }
                for (int t = 0; t < tokens; t++) hostTags[at + t] = tagIds.GetValueOrDefault(sentence.Tags[t], -1);
                done += tokens;
            }
            progress?.Report(new ProbeProgress(stage, done, n, "tokens"));
        }
        device.Stream.Synchronize();
        return new ProbeFeatures { Layers = layers, HostTags = hostTags, Moments = moments };
    }

    public void Dispose() => Layers.Dispose();
}
