using IlgpuElmo.Devices;
using IlgpuElmo.Training;

namespace IlgpuElmo.Model;

/// <summary>
/// Built-in model sizes for `elmo train` without --options. "cpu-default" is the CPU's default run:
/// the "cpu-small" model (sized so a pass over Brown takes minutes on a 2-core CPU; the CPU-speed
/// benchmarks and their peers time exactly that model, so its shape stays fixed) trained with a
/// warm-up and a linear decay of the learning rate (benchmarks/RESULTS.md, "Training quality").
/// "gpu-medium" is for a GPU; "elmo-original" is the published ELMo's shape (char CNN of 2048 filters,
/// LSTM 4096/512, sampled softmax 8192).
/// </summary>
public static class ModelPresets
{
    public static IReadOnlyList<string> Names => ["cpu-default", "cpu-small", "gpu-medium", "elmo-original"];

    public static BilmOptions Get(string name) => name switch
    {
        "cpu-default" => CpuDefault,
        "cpu-small" => CpuSmall,
        "gpu-medium" => GpuMedium,
        "elmo-original" => ElmoOriginal,
        _ => throw new InputException($"--preset '{name}' is not a preset; use one of {string.Join(", ", Names)}."),
    };

    /// <summary>The preset for a device when the user names none.</summary>
    public static string DefaultFor(DeviceKind kind) => kind == DeviceKind.Cpu ? "cpu-default" : "gpu-medium";

    /// <summary>
    /// cpu-small's model at twice its learning rate, warmed up over 50 steps and decayed linearly to a
    /// tenth by the run's last step (however long: `--epochs` stretches the schedule).
    /// </summary>
    public static BilmOptions CpuDefault => CpuSmall with
    {
        NEpochs = 3,
        LearningRate = 0.004f,
        LearningRateSchedule = new LearningRateSchedule(50, LearningRateDecay.Linear, 0.1f),
    };

    public static BilmOptions CpuSmall => new(
        CharCnn: new CharCnnOptions(8, [new(1, 32), new(2, 32), new(3, 64), new(4, 64)], 1, 262, 50, CharActivation.Relu),
        Lstm: new LstmOptions(256, 128, 2, 3f, 3f, true),
        Dropout: 0.1f,
        BatchSize: 64,
        UnrollSteps: 20,
        NEpochs: 1,
        AllClipNormVal: 10f,
        Softmax: new SoftmaxOptions(SoftmaxKind.Adaptive, [1000, 6000], 4f),
        Optimizer: OptimizerKind.Adam,
        LearningRate: 0.002f);

    public static BilmOptions GpuMedium => new(
        CharCnn: new CharCnnOptions(16, [new(1, 32), new(2, 32), new(3, 64), new(4, 128), new(5, 256), new(6, 512)], 2, 262, 50, CharActivation.Relu),
        Lstm: new LstmOptions(2048, 256, 2, 3f, 3f, true),
        Dropout: 0.1f,
        BatchSize: 128,
        UnrollSteps: 20,
        NEpochs: 5,
        NNegativeSamplesBatch: 4096,
        AllClipNormVal: 10f,
        Softmax: new SoftmaxOptions(SoftmaxKind.Sampled, [], 4f),
        Optimizer: OptimizerKind.Adagrad,
        LearningRate: 0.2f,
        Precision: Precision.Tf32);

    public static BilmOptions ElmoOriginal => new(
        CharCnn: new CharCnnOptions(16, [new(1, 32), new(2, 32), new(3, 64), new(4, 128), new(5, 256), new(6, 512), new(7, 1024)], 2, 262, 50, CharActivation.Relu),
        Lstm: new LstmOptions(4096, 512, 2, 3f, 3f, true),
        Dropout: 0.1f,
        BatchSize: 128,
        UnrollSteps: 20,
        NEpochs: 10,
        NNegativeSamplesBatch: 8192,
        AllClipNormVal: 10f,
        Softmax: new SoftmaxOptions(SoftmaxKind.Sampled, [], 4f),
        Optimizer: OptimizerKind.Adagrad,
        LearningRate: 0.2f);
}
