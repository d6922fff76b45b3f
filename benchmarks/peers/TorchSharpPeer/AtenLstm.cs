using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpPeer;

/// <summary>
/// LibTorch's own LSTM-with-projection (PyTorch's nn.LSTM(proj_size=P)), which TorchSharp 0.107 does not
/// wrap: calls ATen's dispatcher entry <c>at::_ops::lstm_input::call</c> in libtorch_cpu.so directly, so
/// autograd records it as it would from Python. One layer, one direction, time-major, no clipping.
/// </summary>
static unsafe class AtenLstm
{
    // at::_ops::lstm_input::call(Tensor const& input, ArrayRef<Tensor> hx, ArrayRef<Tensor> params, bool has_biases,
    //     int64 num_layers, double dropout, bool train, bool bidirectional, bool batch_first) -> tuple<Tensor, Tensor, Tensor>
    const string Symbol = "_ZN2at4_ops10lstm_input4callERKNS_6TensorEN3c108ArrayRefIS2_EES7_bldbbb";

    [StructLayout(LayoutKind.Sequential)]
    struct TensorArray { public nint* Data; public nuint Length; }

    // libstdc++ lays std::tuple<A, B, C> out in reverse: C, B, A. Each at::Tensor is one TensorImpl pointer.
    [StructLayout(LayoutKind.Sequential)]
    struct ThreeTensors { public nint C; public nint H; public nint Output; }

    static readonly delegate* unmanaged<ThreeTensors*, nint*, TensorArray, TensorArray, byte, long, double, byte, byte, byte, void> call = Load();

    static delegate* unmanaged<ThreeTensors*, nint*, TensorArray, TensorArray, byte, long, double, byte, byte, byte, void> Load()
    {
        torch.InitializeDeviceType(DeviceType.CPU);
        foreach (var name in new[] { "libtorch_cpu.so", "libtorch_cpu" })
            if (NativeLibrary.TryLoad(name, typeof(torch).Assembly, null, out var library) && NativeLibrary.TryGetExport(library, Symbol, out var address))
                return (delegate* unmanaged<ThreeTensors*, nint*, TensorArray, TensorArray, byte, long, double, byte, byte, byte, void>)address;
        throw new InvalidOperationException($"libtorch_cpu.so does not export {Symbol} (at::_ops::lstm_input::call); LibTorch 2.10 is expected.");
    }

    /// <summary>
    /// output [T, B, P], h_n [1, B, P], c_n [1, B, H] from input [T, B, in], h0 [1, B, P], c0 [1, B, H] and the
    /// layer's weights w_ih [4H, in], w_hh [4H, P], b_ih [4H], b_hh [4H], w_hr [P, H] (gates i, f, g, o).
    /// </summary>
    public static (Tensor Output, Tensor H, Tensor C) Forward(Tensor input, Tensor h0, Tensor c0, Tensor[] weights)
    {
        nint* hx = stackalloc nint[2] { Impl(h0), Impl(c0) };
        nint* parameters = stackalloc nint[weights.Length];
        for (int i = 0; i < weights.Length; i++) parameters[i] = Impl(weights[i]);
        nint inputImpl = Impl(input);
        ThreeTensors result;
        call(&result, &inputImpl, new TensorArray { Data = hx, Length = 2 }, new TensorArray { Data = parameters, Length = (nuint)weights.Length },
            1, 1, 0.0, 1, 0, 0);
        return (Wrap(result.Output), Wrap(result.H), Wrap(result.C));
    }

    // TorchSharp's handle is a heap at::Tensor (one intrusive pointer to the TensorImpl).
    static nint Impl(Tensor t) => *(nint*)t.Handle;

    // A heap at::Tensor owning the reference the call returned; TorchSharp deletes it on dispose (glibc's
    // operator delete frees what malloc gave).
    static Tensor Wrap(nint impl)
    {
        var box = (nint*)NativeMemory.Alloc((nuint)sizeof(nint));
        *box = impl;
        return Tensor.UnsafeCreateTensor((nint)box);
    }
}
