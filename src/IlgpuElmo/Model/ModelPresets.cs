using IlgpuElmo.Devices;
using IlgpuElmo.Encoders;
using IlgpuElmo.Linalg;

namespace IlgpuElmo.Model;

/// <summary>
/// Built-in model sizes for `elmo train` without --options. "cpu-default" is the CPU's default run (10
/// minutes on 2 cores, build included); "cpu-long" the hour's setting beside it; "cpu-small" the model the
/// CPU-speed benchmarks and their peers time (so its shape stays fixed). Each choice in the two CPU runs
/// is measured in benchmarks/RESULTS.md ("Levers at equal wall time", "Quality against training time"). "gpu-medium" is for a GPU; "elmo-original" is
/// the published ELMo's shape (char CNN of 2048 filters, LSTM 4096/512, sampled softmax 8192).
/// </summary>
public static class ModelPresets
{
    public static IReadOnlyList<string> Names => ["cpu-default", "cpu-long", "cpu-small", "gpu-medium", "elmo-original"];

    public static BilmOptions Get(string name) => name switch
    {
        "cpu-default" => CpuDefault,
        "cpu-long" => CpuLong,
        "cpu-small" => CpuSmall,
        "gpu-medium" => GpuMedium,
        "elmo-original" => ElmoOriginal,
        _ => throw new InputException($"--preset '{name}' is not a preset; use one of {string.Join(", ", Names)}."),
    };

    /// <summary>The preset for a device when the user names none.</summary>
    public static string DefaultFor(DeviceKind kind) => kind == DeviceKind.Cpu ? "cpu-default" : "gpu-medium";

    /// <summary>
    /// cpu-small's character CNN, softmax, batch and window with narrower cells and wider outputs (LSTM 192/160:
    /// cheaper per step than 256/128 and a wider vector per layer), no dropout (over four passes it lowered test
    /// perplexity and did not overfit), five epochs, Adam at 0.006 warmed up over 50 steps and decayed
    /// linearly to zero by the run's last step (however long: `--epochs` stretches the schedule).
    /// </summary>
    public static BilmOptions CpuDefault => CpuSmall with
    {
        Lstm = new LstmOptions(192, 160, 2, 3f, 3f, true),
        Dropout = 0f,
        NEpochs = 5,
        LearningRate = 0.006f,
        LearningRateSchedule = new LearningRateSchedule(50, LearningRateDecay.Linear, 0f),
    };

    /// <summary>
    /// The hour's setting: the cpu-small model for 20 epochs with dropout 0.1 (dropout 0 is measured only for
    /// four and five epochs), Adam at 0.004 warmed up over 50 steps and decayed linearly to a tenth: the options of the
    /// 20-epoch run measured in docs/training.md.
    /// </summary>
    public static BilmOptions CpuLong => CpuSmall with
    {
        NEpochs = 20,
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
        CharCnn: CharCnnOptions.OriginalElmo,
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
