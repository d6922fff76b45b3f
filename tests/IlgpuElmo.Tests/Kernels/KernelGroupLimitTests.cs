using IlgpuElmo.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Tests.Kernels;

/// <summary>
/// Explicitly grouped launchers size their groups within each kernel's own limit where ILGPU exposes one
/// (CUDA, OpenCL: <see cref="KernelGroupLimit"/>); ILGPU's CPU accelerator has none, so there the device's
/// maximum applies. The choice itself: the largest power of two within the preferred size and every limit.
/// </summary>
public class KernelGroupLimitTests
{
    [Fact]
    public void TheCpuAcceleratorHasNoKernelLimitSoTheDevicesApplies()
    {
        var d = TestDevices.Simulated;
        var launcher = d.Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>>(ReductionKernels.SquaredBlocksKernel);
        Assert.Null(KernelGroupLimit.Of(launcher));
        Assert.Equal(d.Accelerator.MaxNumThreadsPerGroup, d.Runtime.MaxGroupSizeOf(launcher));
        Assert.Equal(d.Accelerator.MaxNumThreadsPerGroup, d.Runtime.MaxGroupSizeOf());
    }

    [Fact]
    public void GroupsAreTheLargestPowerOfTwoWithinThePreferredSizeAndTheLimit()
    {
        Assert.Equal(64, KernelRuntime.PowerOfTwoGroup(256, 96));
        Assert.Equal(256, KernelRuntime.PowerOfTwoGroup(256, 1024));
        Assert.Equal(16, KernelRuntime.PowerOfTwoGroup(256, 16));
        Assert.Equal(1, KernelRuntime.PowerOfTwoGroup(256, 1));
    }
}
