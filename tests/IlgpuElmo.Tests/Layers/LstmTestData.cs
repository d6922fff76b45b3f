using IlgpuElmo.Layers;
using IlgpuElmo.Tensors;
using IlgpuElmo.Tests.Reference;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Tests.Layers;

/// <summary>Moves LSTM weights, states and gradients between the float64 reference and the device.</summary>
static class LstmTestData
{
    public static float[] Floats(double[] values) => values.Select(v => (float)v).ToArray();
    public static double[] Doubles(float[] values) => values.Select(v => (double)v).ToArray();

    /// <summary>Copies the reference's (float-valued) weights into the layer and fills its gradients with <paramref name="prior"/> values.</summary>
    public static void Load(ComputeDevice d, LstmProjectionLayer layer, ReferenceLstmLayer reference, Random prior)
    {
        layer.Kernel.Value.CopyFrom(d.Stream, Floats(reference.W));
        layer.Bias.Value.CopyFrom(d.Stream, Floats(reference.B));
        layer.Projection.Value.CopyFrom(d.Stream, Floats(reference.Wp));
        foreach (var p in layer.Parameters) p.Gradient.CopyFrom(d.Stream, TestData.Random(prior, p.Gradient.Length));
    }

    /// <summary>The gradient priors, read back before Backward, so tests can check Backward adds.</summary>
    public static double[][] Gradients(ComputeDevice d, LstmProjectionLayer layer) =>
        layer.Parameters.Select(p => Doubles(p.Gradient.ToArray(d.Stream))).ToArray();

    public static double[] Plus(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    /// <summary>Asserts the layer's gradients are prior + the reference's (W_0, B, W_P_0).</summary>
    public static void AssertGradients(ComputeDevice d, LstmProjectionLayer layer, double[][] prior, ReferenceLstmLayer.Gradients expected,
        double rtol, double atol, string what)
    {
        TestData.AssertClose(layer.Kernel.Gradient.ToArray(d.Stream), Plus(prior[0], expected.W), rtol, atol, $"{what} dW_0");
        TestData.AssertClose(layer.Bias.Gradient.ToArray(d.Stream), Plus(prior[1], expected.B), rtol, atol, $"{what} dB");
        TestData.AssertClose(layer.Projection.Gradient.ToArray(d.Stream), Plus(prior[2], expected.Wp), rtol, atol, $"{what} dW_P_0");
    }

    public static DeviceTensor<float> Poisoned(ComputeDevice d, params int[] dims) =>
        d.Upload<float>(TestData.Poison(new Shape(dims).Size), dims);
}
