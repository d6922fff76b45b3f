using IlgpuElmo.Devices;

namespace IlgpuElmo.Model;

/// <summary>
/// Built-in model sizes for `elmo train` without --options. "cpu-small" is sized so the default run
/// (Brown, one pass) finishes in minutes on a 2-core CPU; "gpu-medium" is for a GPU; "elmo-original"
/// is the published ELMo's shape (char CNN of 2048 filters, LSTM 4096/512, sampled softmax 8192).
/// </summary>
public static class ModelPresets
{
    public static IReadOnlyList<string> Names => ["cpu-small", "gpu-medium", "elmo-original"];

    public static BilmOptions Get(string name) => name switch
    {
        "cpu-small" => CpuSmall,
        "gpu-medium" => GpuMedium,
        "elmo-original" => ElmoOriginal,
        _ => throw new InputException($"--preset '{name}' is not a preset; use one of {string.Join(", ", Names)}."),
    };

    /// <summary>The preset for a device when the user names none.</summary>
    public static string DefaultFor(DeviceKind kind) => kind == DeviceKind.Cpu ? "cpu-small" : "gpu-medium";

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
