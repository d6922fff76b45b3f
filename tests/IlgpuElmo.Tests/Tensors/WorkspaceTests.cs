using ILGPU.Runtime;
using IlgpuElmo.Tensors;

namespace IlgpuElmo.Tests.Tensors;

public class WorkspaceTests
{
    [Fact]
    public void ANameIsOneBufferReusedAndGrownOnlyWhenNeeded()
    {
        var device = TestDevices.Host;
        using var workspace = new Workspace(device);
        var first = workspace.Get<float>("gates", 4, 8);
        var again = workspace.Get<float>("gates", 2, 8);
        Assert.Equal(first.View.LoadEffectiveAddressAsPtr(), again.View.LoadEffectiveAddressAsPtr());
        Assert.Equal(new Shape(2, 8), again.Shape);
        Assert.Equal(32 * sizeof(float), workspace.Bytes);
        var bigger = workspace.Get<float>("gates", 8, 8);
        Assert.Equal(new Shape(8, 8), bigger.Shape);
        Assert.Equal(64 * sizeof(float), workspace.Bytes);
        var ids = workspace.Get<int>("ids", 5);
        Assert.Equal(64 * sizeof(float) + 5 * sizeof(int), workspace.Bytes);
        Assert.Equal(5, ids.Length);
    }
}
