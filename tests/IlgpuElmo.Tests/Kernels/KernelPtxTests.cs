using System.Reflection;
using System.Text.RegularExpressions;
using IlgpuElmo.Kernels;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// The PTX an H100 (SM 9.0) would run for every kernel of the kernels assembly (each public static
/// method named *Kernel): no approximate instruction (`tanh.approx`, `ex2.approx`, `lg2.approx`,
/// `rcp.approx`, ... which ILGPU emits for XMath's transcendentals; see <see cref="KernelMath"/>) and
/// no `.local` state space (register spills or per-thread arrays in slow local memory).
/// </summary>
public partial class KernelPtxTests
{
    /// <summary>Every kernel: the public static void methods named *Kernel of the kernels assembly's types.</summary>
    static IEnumerable<MethodInfo> AllKernels() =>
        typeof(LstmKernels).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.Name.EndsWith("Kernel") && m.ReturnType == typeof(void));

    public static TheoryData<string, string> Kernels()
    {
        var data = new TheoryData<string, string>();
        foreach (var m in AllKernels().OrderBy(m => m.DeclaringType!.Name).ThenBy(m => m.Name))
            data.Add(m.DeclaringType!.Name, m.Name);
        return data;
    }

    /// <summary>The list is the whole set: every kernel family is in it, and so is every kernel a launcher loads by name.</summary>
    [Fact]
    public void TheKernelListCoversEveryFamily()
    {
        var names = AllKernels().Select(m => $"{m.DeclaringType!.Name}.{m.Name}").ToHashSet();
        foreach (var family in new[] { nameof(CharCnnKernels), nameof(ElementwiseKernels), nameof(EmbeddingKernels), nameof(GemmKernels),
                     nameof(LstmKernels), nameof(OptimizerKernels), nameof(ReductionKernels), nameof(ScalarMixKernels), nameof(SoftmaxKernels) })
            Assert.Contains(names, n => n.StartsWith(family + "."));
        Assert.Contains($"{nameof(CharCnnKernels)}.{nameof(CharCnnKernels.HighwayForwardKernel)}", names);
        Assert.Contains($"{nameof(ScalarMixKernels)}.{nameof(ScalarMixKernels.CoefficientsKernel)}", names);
        Assert.True(names.Count >= 50, $"{names.Count} kernels found");
    }

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
        var findings = Findings(compiler.Compile(typeof(KernelPtxTests).GetMethod(nameof(XMathKernel), BindingFlags.NonPublic | BindingFlags.Static)!));
        Assert.Contains(findings, f => f.StartsWith("tanh.approx"));
        Assert.Contains(findings, f => f.StartsWith("ex2.approx"));
        Assert.Contains(".local", Findings("\t.local .align 4 .b8 __local_depot0[64];").Single());
    }

    static void XMathKernel(ILGPU.Index1D i, ILGPU.ArrayView<float> x) =>
        x[i] = ILGPU.Algorithms.XMath.Tanh(x[i]) + ILGPU.Algorithms.XMath.Exp(x[i]);
}
