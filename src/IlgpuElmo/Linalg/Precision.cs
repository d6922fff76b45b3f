namespace IlgpuElmo.Linalg;

/// <summary>GEMM precision on CUDA: TF32 lets cuBLAS use TF32 tensor-op math (inputs with a 10-bit mantissa, FP32's range).</summary>
public enum Precision { Fp32, Tf32 }
