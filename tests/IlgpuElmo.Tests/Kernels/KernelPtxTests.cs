using System.Reflection;
using System.Text.RegularExpressions;
using IlgpuElmo.Kernels;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// The PTX an H100 (SM 9.0) would run for the LSTM cell and softmax kernels (and the other reductions
/// issue 11 reshaped for GPUs: column sums, the tiled GEMM with its 16 accumulators): no approximate instruction
/// (`tanh.approx`, `ex2.approx`, `lg2.approx`, `rcp.approx`, ... which ILGPU emits for XMath's
/// transcendentals; see <see cref="KernelMath"/>) and no `.local` state space (register spills or
/// per-thread arrays in slow local memory).
/// </summary>
public partial class LstmAndSoftmaxPtxTests
{
    public static TheoryData<string, string> Kernels => new()
    {
        { nameof(LstmKernels), nameof(LstmKernels.CellForwardKernel) },
        { nameof(LstmKernels), nameof(LstmKernels.CellBackwardKernel) },
        { nameof(SoftmaxKernels), nameof(SoftmaxKernels.RowStatsKernel) },
        { nameof(SoftmaxKernels), nameof(SoftmaxKernels.FinishRowsKernel) },
        { nameof(SoftmaxKernels), nameof(SoftmaxKernels.GradientKernel) },
        { nameof(SoftmaxKernels), nameof(SoftmaxKernels.SampledRowsKernel) },
        { nameof(ElementwiseKernels), nameof(ElementwiseKernels.ColumnSumsPartialKernel) },
        { nameof(GemmKernels), nameof(GemmKernels.TiledKernel) },
    };

    [GeneratedRegex(@"^\s*[a-z0-9]+(\.[a-z0-9]+)*\.approx(\.[a-z0-9]+)*", RegexOptions.Multiline)]
    private static partial Regex ApproxInstruction();

    [GeneratedRegex(@"\.local\b")]
    private static partial Regex LocalStateSpace();

    /// <summary>Approximate instructions and local-memory uses in a PTX listing, one line each.</summary>
    static List<string> Findings(string ptx) =>
        ApproxInstruction().Matches(ptx).Select(m => m.Value.Trim())
            .Concat(ptx.Split('\n').Where(line => LocalStateSpace().IsMatch(line)).Select(line => line.Trim()))
            .ToList();

    [Theory]
    [MemberData(nameof(Kernels))]
    public void KernelPtxHasNoApproximateMathAndNoLocalMemory(string family, string kernel)
    {
        var type = typeof(LstmKernels).Assembly.GetType($"IlgpuElmo.Kernels.{family}")!;
        var method = type.GetMethod(kernel, BindingFlags.Public | BindingFlags.Static)!;
        using var compiler = PtxCompiler.Sm90();
        string ptx = compiler.Compile(method);
        Assert.Contains(".entry", ptx);
        var findings = Findings(ptx);
        Assert.True(findings.Count == 0, $"{family}.{kernel}: {string.Join("; ", findings.Distinct())}");
    }

    /// <summary>The inspection sees what it looks for: XMath's tanh and exp compile to approximate instructions on SM 9.0.</summary>
    [Fact]
    public void TheInspectionFlagsXMathTranscendentals()
    {
        using var compiler = PtxCompiler.Sm90();
        var findings = Findings(compiler.Compile(typeof(LstmAndSoftmaxPtxTests).GetMethod(nameof(XMathKernel), BindingFlags.NonPublic | BindingFlags.Static)!));
        Assert.Contains(findings, f => f.StartsWith("tanh.approx"));
        Assert.Contains(findings, f => f.StartsWith("ex2.approx"));
        Assert.Contains(".local", Findings("\t.local .align 4 .b8 __local_depot0[64];").Single());
    }

    static void XMathKernel(ILGPU.Index1D i, ILGPU.ArrayView<float> x) =>
        x[i] = ILGPU.Algorithms.XMath.Tanh(x[i]) + ILGPU.Algorithms.XMath.Exp(x[i]);
}
