using IlgpuElmo.Kernels;
using IlgpuElmo.Tests.Reference;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// The LSTM's reversal kernel here; the step kernels are checked through the layer against the float64
/// reference (tests/.../Layers/LstmProjectionLayerTests.cs), since only the layer defines their contract.
/// </summary>
public class LstmKernelsTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void ReverseWithinLengthReversesEachRowAndZeroesPadding(string mode)
    {
        var d = TestDevices.Get(mode);
        var k = d.Kernels(rt => new LstmKernels(rt));
        int steps = 5, batch = 4, dim = 3;
        int[] lengths = [5, 3, 0, 1];
        float[] src = TestData.Random(new Random(61), steps * batch * dim);
        using var lengthsOnDevice = d.Upload<int>(lengths, batch);
        using var input = d.Upload<float>(src, steps, batch, dim);
        using var reversed = d.Upload<float>(TestData.Poison(src.Length), steps, batch, dim);
        using var back = d.Upload<float>(TestData.Poison(src.Length), steps, batch, dim);
        var p = new ReverseParams(steps, batch, dim);
        k.ReverseWithinLength(d.Stream, p, input.View, lengthsOnDevice.View, reversed.View);
        k.ReverseWithinLength(d.Stream, p, reversed.View, lengthsOnDevice.View, back.View);

        var source = src.Select(v => (double)v).ToArray();
        Assert.Equal(ReferenceLstmStack.Reverse(source, steps, batch, dim, lengths).Select(v => (float)v), reversed.ToArray(d.Stream));
        var expectedBack = source.Select((v, i) => (i / dim) / batch < lengths[(i / dim) % batch] ? v : 0).ToArray();
        Assert.Equal(expectedBack.Select(v => (float)v), back.ToArray(d.Stream));
        Assert.Equal(src[(4 * batch + 0) * dim + 1], reversed.ToArray(d.Stream)[(0 * batch + 0) * dim + 1]);
    }
}
