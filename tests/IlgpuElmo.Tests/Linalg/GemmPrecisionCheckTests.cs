using IlgpuElmo.Devices;
using IlgpuElmo.Kernels;
using IlgpuElmo.Linalg;
using IlgpuElmo.Tensors;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Tests.Linalg;

/// <summary>
/// The precision check tells the arithmetic apart on the CPU: GEMM backends that round their inputs as
/// FP16 and as TF32 tensor cores would (to nearest, and truncating), against the FP32 host GEMM.
/// </summary>
public class GemmPrecisionCheckTests
{
    /// <summary>A row-major GEMM on CPU-accelerator memory that rounds every input first, then sums in FP32.</summary>
    sealed class RoundingGemm(Func<float, float> round) : IGemmBackend
    {
        public string Name => "rounding";

        public void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
        {
            var x = a.AsHostSpan();
            var y = b.AsHostSpan();
            var z = c.AsHostSpan();
            for (int batch = 0; batch < p.BatchCount; batch++)
                for (int i = 0; i < p.M; i++)
                    for (int j = 0; j < p.N; j++)
                    {
                        float sum = 0f;
                        for (int k = 0; k < p.K; k++)
                        {
                            float av = x[(int)(batch * p.StrideA + (p.TransA != 0 ? (long)k * p.Lda + i : (long)i * p.Lda + k))];
                            float bv = y[(int)(batch * p.StrideB + (p.TransB != 0 ? (long)j * p.Ldb + k : (long)k * p.Ldb + j))];
                            sum += round(av) * round(bv);
                        }
                        int at = (int)(batch * p.StrideC + (long)i * p.Ldc + j);
                        z[at] = p.Beta == 0f ? p.Alpha * sum : p.Alpha * sum + p.Beta * z[at];
                    }
        }

        public void Dispose() { }
    }

    static float Fp16(float x) => (float)(System.Half)x;

    /// <summary>TF32: 10 explicit mantissa bits, rounded to nearest even.</summary>
    static float Tf32Nearest(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        bits = (bits + 0xFFFu + ((bits >> 13) & 1u)) & 0xFFFFE000u;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    /// <summary>TF32 as tensor cores fed raw FP32 bits: the low 13 mantissa bits ignored.</summary>
    static float Tf32Truncated(float x) => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(x) & 0xFFFFE000u);

    static GemmPrecisionCheck.Result Check(Func<float, float> round, Precision asked)
    {
        var device = TestDevices.Host;
        using var gemm = new Gemm(new RoundingGemm(round));
        return GemmPrecisionCheck.Run(device, device.Stream, gemm, asked);
    }

    [Fact]
    public void Fp16InputsFailTheTf32AndFp32Checks()
    {
        var tf32 = Check(Fp16, Precision.Tf32);
        Assert.Equal(MeasuredMath.BelowTf32, tf32.Measured);
        Assert.False(tf32.Passed);
        // The ends FP16 cannot hold: 1e5 overflows to infinity, 1e-6 is subnormal (a few significant bits).
        Assert.Equal(double.PositiveInfinity, tf32.InputErrors.Single(e => e.Probe == "A x 1E+5").Error);
        Assert.InRange(tf32.InputErrors.Single(e => e.Probe == "B x 1E-6").Error, 1e-2, 1);
        Assert.InRange(tf32.InputErrors.Single(e => e.Probe == "A x 1E+0").Error, 1e-4, GemmPrecisionCheck.Tf32InputError);
        Assert.False(Check(Fp16, Precision.Fp32).Passed);
    }

    [Theory]
    [InlineData("nearest")]
    [InlineData("truncated")]
    public void Tf32InputsPassTheTf32CheckAndFailTheFp32Check(string rounding)
    {
        Func<float, float> round = rounding == "nearest" ? Tf32Nearest : Tf32Truncated;
        var tf32 = Check(round, Precision.Tf32);
        Assert.Equal(MeasuredMath.Tf32, tf32.Measured);
        Assert.True(tf32.Passed, $"product error {tf32.ProductError}");
        Assert.All(tf32.InputErrors, e => Assert.InRange(e.Error, 1e-4, GemmPrecisionCheck.Tf32InputError));
        var fp32 = Check(round, Precision.Fp32);
        Assert.False(fp32.Passed);
        Assert.True(fp32.ProductError > GemmPrecisionCheck.ProductTolerance(Precision.Fp32), $"product error {fp32.ProductError}");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Modes), MemberType = typeof(TestDevices))]
    public void OurFp32GemmsMeasureFp32AndPassBoth(string mode)
    {
        var device = TestDevices.Get(mode);
        foreach (var asked in new[] { Precision.Fp32, Precision.Tf32 })
        {
            var result = GemmPrecisionCheck.Run(device, device.Stream, device.Gemm, asked);
            Assert.Equal(MeasuredMath.Fp32, result.Measured);
            Assert.True(result.Passed, $"{asked}: product error {result.ProductError}");
        }
    }

    [Fact]
    public void Tf32IsCublasTf32TensorOpMathNotItsFp16TensorOpMath()
    {
        Assert.Equal(3, (int)CuBlasGemm.MathModeFor(Precision.Tf32));
        Assert.NotEqual(CuBlasMathMode.TensorOpMath, CuBlasGemm.MathModeFor(Precision.Tf32));
        Assert.Equal(CuBlasMathMode.DefaultMath, CuBlasGemm.MathModeFor(Precision.Fp32));
    }

    [Fact]
    public void TheOptionsPrecisionAppliesUnlessTheFlagNamedOne()
    {
        using (var unset = ComputeDevice.Create(new DeviceOptions(DeviceKind.Cpu), TextWriter.Null))
        {
            Assert.Equal(Precision.Fp32, unset.Precision);
            unset.ApplyModelPrecision(Precision.Tf32);
            Assert.Equal(Precision.Tf32, unset.Precision);
        }
        using var flagged = ComputeDevice.Create(new DeviceOptions(DeviceKind.Cpu, Precision: Precision.Fp32), TextWriter.Null);
        flagged.ApplyModelPrecision(Precision.Tf32);
        Assert.Equal(Precision.Fp32, flagged.Precision);
    }
}
