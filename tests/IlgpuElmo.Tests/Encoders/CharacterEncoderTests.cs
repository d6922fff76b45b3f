using IlgpuElmo.Encoders;
using IlgpuElmo.Tests.Reference;

namespace IlgpuElmo.Tests.Encoders;

public class CharacterEncoderTests
{
    static readonly (int, int)[] Filters = [(1, 3), (2, 4), (3, 5)];
    static readonly string?[] Tokens = ["<S>", "a", "naïve", "北京", new string('x', 60), "</S>", null];

    static int[] CharIds()
    {
        var ids = new int[Tokens.Length * CharacterMapper.MaxCharacters];
        new CharacterMapper().Write(Tokens, ids);
        return ids;
    }

    static Func<int, double[]> Values(Random random) => n => TestData.Random(random, n, 0.6f).Select(v => (double)v).ToArray();

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ForwardAndBackwardMatchTheReference(string mode)
    {
        var d = TestDevices.Get(mode);
        foreach (var (tanh, projection) in new[] { (false, 7), (true, 12) })
        {
            var random = new Random(tanh ? 21 : 20);
            var reference = new ReferenceCharCnn(4, Filters, 2, projection, tanh, Values(random));
            var options = new CharCnnOptions(4, Filters.Select(f => new CnnFilter(f.Item1, f.Item2)).ToList(), 2,
                Activation: tanh ? CharActivation.Tanh : CharActivation.Relu);
            using var encoder = new CharacterEncoder(d, options, projection);
            var parameters = encoder.Parameters.ToList();
            var values = reference.All().ToList();
            Assert.Equal(values.Count, parameters.Count);
            var priors = new List<float[]>();
            for (int i = 0; i < parameters.Count; i++)
            {
                Assert.Equal(values[i].Length, parameters[i].Shape.Size);
                parameters[i].Value.CopyFrom(d.Stream, values[i].Select(v => (float)v).ToArray());
                var prior = TestData.Random(random, values[i].Length, 0.1f);
                if (i == 0) Array.Clear(prior, 0, 4);
                parameters[i].Gradient.CopyFrom(d.Stream, prior);
                priors.Add(prior);
            }
            Assert.Equal(["char_embed", "CNN/W_cnn_0", "CNN/W_cnn_1", "CNN/W_cnn_2", "CNN/b_cnn_0", "CNN/b_cnn_1", "CNN/b_cnn_2",
                "CNN_high_0/W_carry", "CNN_high_0/b_carry", "CNN_high_0/W_transform", "CNN_high_0/b_transform",
                "CNN_high_1/W_carry", "CNN_high_1/b_carry", "CNN_high_1/W_transform", "CNN_high_1/b_transform",
                .. projection == 12 ? Array.Empty<string>() : ["CNN_proj/W_proj", "CNN_proj/b_proj"]], parameters.Select(p => p.Name));

            int n = Tokens.Length;
            var ids = CharIds();
            using var dIds = d.Upload<int>(ids, n, CharacterMapper.MaxCharacters);
            using var output = d.Upload<float>(TestData.Poison(n * projection), n, projection);
            encoder.Forward(d.Stream, dIds, output);
            var expected = reference.Forward(ids, n);
            string what = tanh ? "tanh, no projection" : "relu, projection";
            TestData.AssertClose(output.ToArray(d.Stream), expected, 1e-4, 1e-5, $"{what}: output");

            var gradOut = TestData.Random(random, n * projection);
            using var dGrad = d.Upload<float>(gradOut, n, projection);
            encoder.Backward(d.Stream, dGrad);
            var expectedGrads = reference.Backward(gradOut.Select(v => (double)v).ToArray());
            for (int i = 0; i < parameters.Count; i++)
            {
                var total = expectedGrads[i].Select((g, q) => g + priors[i][q]).ToArray();
                TestData.AssertClose(parameters[i].Gradient.ToArray(d.Stream), total, 1e-4, 1e-4, $"{what}: gradient of {parameters[i].Name}");
            }
        }
    }

    [Fact]
    public void ReferenceGradientsMatchFiniteDifferences()
    {
        foreach (var (tanh, projection) in new[] { (false, 7), (true, 12) })
        {
            var random = new Random(30);
            var reference = new ReferenceCharCnn(4, Filters, 2, projection, tanh, Values(random));
            int n = Tokens.Length;
            var ids = CharIds();
            var weights = TestData.Random(random, n * projection).Select(v => (double)v).ToArray();
            double Loss() => reference.Forward(ids, n).Zip(weights, (a, b) => a * b).Sum();
            Loss();
            var grads = reference.Backward(weights);
            var arrays = reference.All().ToList();
            for (int a = 0; a < arrays.Count; a++)
            {
                // char_embed: rows of characters the tokens use ('a' + 1, the bow mark + 1); others: a few entries.
                int[] entries = a == 0 ? [98 * 4, 98 * 4 + 3, 259 * 4 + 1] : [0, arrays[a].Length / 2, arrays[a].Length - 1];
                foreach (int q in entries)
                {
                    double saved = arrays[a][q], h = 1e-6;
                    arrays[a][q] = saved + h;
                    double plus = Loss();
                    arrays[a][q] = saved - h;
                    double minus = Loss();
                    arrays[a][q] = saved;
                    double fd = (plus - minus) / (2 * h);
                    Assert.True(Math.Abs(fd - grads[a][q]) <= 1e-6 + 1e-5 * Math.Abs(fd),
                        $"array {a} entry {q} ({(tanh ? "tanh" : "relu")}): finite difference {fd}, backward {grads[a][q]}");
                }
            }
        }
    }

    [Fact]
    public void OptionsAreCheckedWithMessagesNamingTheOption()
    {
        var bad = CharCnnOptions.OriginalElmo with { NCharacters = 300 };
        Assert.Contains("n_characters", Assert.Throws<InputException>(() => bad.Validate(512)).Message);
        var small = new CharCnnOptions(4, [new(3, 2)], 0);
        Assert.Contains("projection_dim", Assert.Throws<InputException>(() => small.Validate(8)).Message);
        Assert.Equal(2048, CharCnnOptions.OriginalElmo.NFilters);
    }
}
