namespace IlgpuElmo.Kernels;

/// <summary>
/// Dimensions of a row-major strided-batched GEMM: for each batch b,
/// C_b[M,N] = alpha * op(A_b) * op(B_b) + beta * C_b, with op(A_b) [M,K] and op(B_b) [K,N].
/// A_b starts at b * StrideA; element (i,k) of op(A) is A[i*Lda + k], or A[k*Lda + i] when TransA.
/// Packed into one struct because ILGPU's typed loaders stop at 14 parameters.
/// </summary>
public readonly record struct GemmParams(
    int M, int N, int K,
    float Alpha, float Beta,
    int TransA, int TransB,
    int Lda, int Ldb, int Ldc,
    long StrideA, long StrideB, long StrideC,
    int BatchCount);
