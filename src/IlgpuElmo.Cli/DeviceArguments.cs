using System.CommandLine;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Cli;

/// <summary>The device options every command that computes shares: --device, --device-index, --precision, --cpu-execution.</summary>
sealed class DeviceArguments
{
    public readonly Option<string> Device = new("--device")
    {
        Description = "auto | cuda | opencl | cpu (auto: CUDA, then a qualifying OpenCL device other than the host CPU, then the CPU)",
        DefaultValueFactory = _ => "auto",
    };

    public readonly Option<int?> DeviceIndex = new("--device-index")
    {
        Description = "Which device of the chosen kind (see `elmo devices`)",
    };

    public readonly Option<string?> Precision = new("--precision")
    {
        Description = "fp32 | tf32 (TF32: cuBLAS TF32 tensor-op math on CUDA); default: the options' precision, else fp32",
    };

    public readonly Option<string> CpuExecution = new("--cpu-execution")
    {
        Description = "host | simulate: on the CPU, run kernel bodies as parallel loops (fast) or through ILGPU's GPU simulation",
        DefaultValueFactory = _ => "host",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Device);
        command.Options.Add(DeviceIndex);
        command.Options.Add(Precision);
        command.Options.Add(CpuExecution);
    }

    public DeviceOptions Parse(ParseResult result) => new(
        DeviceOptions.ParseKind(result.GetValue(Device)!),
        result.GetValue(DeviceIndex),
        result.GetValue(Precision) is { } precision ? DeviceOptions.ParsePrecision(precision) : null,
        DeviceOptions.ParseCpuExecution(result.GetValue(CpuExecution)!));
}
