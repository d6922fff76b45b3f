namespace TorchSharpPeer;

/// <summary>
/// The inputs `elmo bench` makes, drawn the same way from the same System.Random seeds, so both programs
/// see the same tokens: training windows (src/IlgpuElmo.Cli/Commands/BenchCommand.cs) and the sentences
/// of the embedding measure (BenchCommand's --embed).
/// </summary>
static class SyntheticText
{
    /// <summary>Zipf-like ids as a frequency-sorted vocabulary sees them: log-uniform over [3, V).</summary>
    static int Draw(Random random, int vocabulary) =>
        Math.Min(vocabulary - 1, 3 + (int)(Math.Exp(random.NextDouble() * Math.Log(vocabulary - 2)) - 1));

    public static string Word(int id) => id switch { 0 => "<S>", 1 => "</S>", 2 => "<UNK>", _ => $"w{id}" };

    /// <summary>One window, time-major (position t * B + b): input tokens and target ids per direction.</summary>
    public sealed record Window(string[] ForwardTokens, int[] ForwardTargets, string[] BackwardTokens, int[] BackwardTargets);

    /// <summary>Endless training windows: Random(1), per position forward input, backward input, forward target, backward target.</summary>
    public static IEnumerable<Window> TrainingWindows(int vocabulary, int steps, int batch)
    {
        var random = new Random(1);
        while (true)
        {
            int n = steps * batch;
            var window = new Window(new string[n], new int[n], new string[n], new int[n]);
            for (int i = 0; i < n; i++)
            {
                int f = Draw(random, vocabulary), b = Draw(random, vocabulary);
                window.ForwardTokens[i] = Word(f);
                window.BackwardTokens[i] = Word(b);
                window.ForwardTargets[i] = Draw(random, vocabulary);
                window.BackwardTargets[i] = Draw(random, vocabulary);
            }
            yield return window;
        }
    }

    /// <summary>The embedding measure's sentences: Random(2), lengths 5..45, words drawn as above.</summary>
    public static string[][] Sentences(int count, int vocabulary)
    {
        var random = new Random(2);
        var sentences = new string[count][];
        for (int s = 0; s < count; s++)
        {
            sentences[s] = new string[5 + random.Next(41)];
            for (int t = 0; t < sentences[s].Length; t++) sentences[s][t] = Word(Draw(random, vocabulary));
        }
        return sentences;
    }

    /// <summary>allennlp's ELMoCharacterMapper: 50 ids per token, begin/end of word and padding, all + 1.</summary>
    public static long[] CharacterIds(IReadOnlyList<string> tokens)
    {
        const int chars = 50, bos = 256, eos = 257, bow = 258, eow = 259, pad = 260;
        var ids = new long[tokens.Count * chars];
        for (int u = 0; u < tokens.Count; u++)
        {
            var row = ids.AsSpan(u * chars, chars);
            row.Fill(pad);
            row[0] = bow;
            if (tokens[u] is "<S>" or "</S>") { row[1] = tokens[u] == "<S>" ? bos : eos; row[2] = eow; }
            else
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(tokens[u]);
                int kept = Math.Min(bytes.Length, chars - 2);
                for (int k = 0; k < kept; k++) row[k + 1] = bytes[k];
                row[kept + 1] = eow;
            }
            for (int k = 0; k < chars; k++) row[k] += 1;
        }
        return ids;
    }
}
