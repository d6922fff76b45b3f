using IlgpuElmo.Kernels;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Linalg;

/// <summary>
/// cuBLAS through ILGPU.Algorithms, on the caller's stream. cuBLAS is column-major: a row-major
/// C[M,N] = op(A) op(B) is computed as the column-major C^T[N,M] = op(B)^T op(A)^T, i.e. operands
/// swapped with their own transpose flags. Strided batches go through our own P/Invoke of
/// cublasSgemmStridedBatched on the same handle. Each stream gets its own handle: a handle's workspace
/// must not be shared by GEMMs running concurrently on two streams (the LSTM's two directions).
/// </summary>
public sealed class CuBlasGemm : IGemmBackend
{
    /// <summary>
    /// CUBLAS_TF32_TENSOR_OP_MATH (3), which ILGPU's enum does not name. Its TensorOpMath (1) is
    /// CUBLAS_TENSOR_OP_MATH, which cuBLAS runs for SGEMM as CUBLAS_COMPUTE_32F_FAST_16F: FP16 inputs,
    /// whose range (6e-5 .. 65504) cannot hold this model's gradients.
    /// </summary>
    public const CuBlasMathMode Tf32TensorOpMath = (CuBlasMathMode)3;

    readonly CudaAccelerator accelerator;
    readonly Dictionary<AcceleratorStream, CuBlas> handles = new();
    Precision precision;

    public CuBlasGemm(CudaAccelerator accelerator, Precision precision)
    {
        CuBlasLibrary.Install();
        this.accelerator = accelerator;
        this.precision = precision;
        Version = Handle(accelerator.DefaultStream).Version;
    }

    /// <summary>The cuBLAS math mode for a precision: FP32 is cuBLAS's default math, TF32 its TF32 tensor-op math.</summary>
    public static CuBlasMathMode MathModeFor(Precision precision) =>
        precision == Precision.Tf32 ? Tf32TensorOpMath : CuBlasMathMode.DefaultMath;

    /// <summary>The precision every handle computes in; setting it switches the handles made so far too.</summary>
    public Precision Precision
    {
        get => precision;
        set
        {
            precision = value;
            foreach (var blas in handles.Values) blas.MathMode = MathModeFor(value);
        }
    }

    CuBlas Handle(AcceleratorStream stream)
    {
        if (handles.TryGetValue(stream, out var blas)) return blas;
        blas = new CuBlas(accelerator)
        {
            MathMode = MathModeFor(precision),
            PointerMode = CuBlasPointerMode.Host,
        };
        blas.Stream = (CudaStream)stream;
        handles[stream] = blas;
        return blas;
    }

    public string Name => "cublas";
    public int Version { get; }

    public void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (p.M == 0 || p.N == 0 || p.BatchCount == 0) return;
        var blas = Handle(stream);
        DeviceCounters.Of(accelerator).CountLaunches();
        var opB = p.TransB != 0 ? CuBlasOperation.Transpose : CuBlasOperation.NonTranspose;
        var opA = p.TransA != 0 ? CuBlasOperation.Transpose : CuBlasOperation.NonTranspose;
        if (p.BatchCount == 1)
        {
            blas.Gemm(opB, opA, p.N, p.M, p.K, p.Alpha, b, p.Ldb, a, p.Lda, p.Beta, c, p.Ldc);
            return;
        }
        int status = CuBlasNative.SgemmStridedBatched(blas.Handle, (int)opB, (int)opA, p.N, p.M, p.K,
            p.Alpha, b.LoadEffectiveAddressAsPtr(), p.Ldb, p.StrideB,
            a.LoadEffectiveAddressAsPtr(), p.Lda, p.StrideA,
            p.Beta, c.LoadEffectiveAddressAsPtr(), p.Ldc, p.StrideC, p.BatchCount);
        if (status != 0) throw new InvalidOperationException($"cublasSgemmStridedBatched failed with status {status}.");
    }

    public void Dispose()
    {
        foreach (var blas in handles.Values) blas.Dispose();
        handles.Clear();
    }
}
