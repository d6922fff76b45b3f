using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace IlgpuElmo.Kernels;

/// <summary>
/// The most threads one group of a loaded kernel may have, where ILGPU exposes the compiled kernel: on CUDA
/// the function's CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK (registers can make it smaller than the device's
/// 1024), on OpenCL its CL_KERNEL_WORK_GROUP_SIZE (private memory and the compiler can make it smaller than
/// the device's maximum). Null where there is none to ask (ILGPU's CPU accelerator) or the query fails.
/// </summary>
public static unsafe class KernelGroupLimit
{
    const int MaxThreadsPerBlockAttribute = 0;
    static readonly Lazy<nint> FuncGetAttribute = new(() =>
        NativeLibrary.TryLoad(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1", out nint cuda)
        && NativeLibrary.TryGetExport(cuda, "cuFuncGetAttribute", out nint entry) ? entry : 0);

    /// <summary>The kernel behind a launcher delegate's own group limit, or null (see the class summary).</summary>
    public static int? Of(Delegate launcher)
    {
        if (!launcher.TryGetKernel(out var kernel)) return null;
        switch (kernel)
        {
            case CudaKernel cuda when FuncGetAttribute.Value != 0:
            {
                cuda.Accelerator.Bind();
                int value;
                int status = ((delegate* unmanaged<int*, int, nint, int>)FuncGetAttribute.Value)(&value, MaxThreadsPerBlockAttribute, cuda.FunctionPtr);
                return status == 0 && value > 0 ? value : null;
            }
            case CLKernel cl when cl.Accelerator is CLAccelerator accelerator:
            {
                try
                {
                    long value = CLAPI.CurrentAPI.GetKernelWorkGroupInfo<nint>(cl.KernelPtr, accelerator.DeviceId,
                        CLKernelWorkGroupInfoType.CL_KERNEL_WORK_GROUP_SIZE);
                    return value > 0 ? (int)Math.Min(value, int.MaxValue) : null;
                }
                catch (CLException)
                {
                    return null;
                }
            }
            default:
                return null;
        }
    }
}
