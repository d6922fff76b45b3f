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
    readonly CudaAccelerator accelerator;
    readonly bool tf32;
    readonly Dictionary<AcceleratorStream, CuBlas> handles = new();

    public CuBlasGemm(CudaAccelerator accelerator, bool tf32)
    {
        CuBlasLibraryResolver.Install();
        this.accelerator = accelerator;
        this.tf32 = tf32;
        Version = Handle(accelerator.DefaultStream).Version;
    }

    CuBlas Handle(AcceleratorStream stream)
    {
        if (handles.TryGetValue(stream, out var blas)) return blas;
        blas = new CuBlas(accelerator)
        {
            MathMode = tf32 ? CuBlasMathMode.TensorOpMath : CuBlasMathMode.DefaultMath,
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
