using System.CommandLine;
using IlgpuElmo.Devices;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo export --model DIR --out OUTDIR`: the model in the published layout that allennlp's Elmo and
/// bilm-tf read (options.json + weights.hdf5), with its softmax, vocabulary and complete options beside
/// them (<see cref="PublishedExport"/>); prints what the published format cannot express.
/// </summary>
static class ExportCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var model = new ModelArguments();
        var output = new Option<string>("--out")
        {
            Description = "Folder to write options.json, weights.hdf5, softmax.hdf5, vocab.txt and elmo-options.json into: new or empty (or holding an earlier export, with --overwrite)",
            Required = true,
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the export in --out (a run folder or other files are never replaced)" };
        var command = new Command("export", "Write a model as options.json + weights.hdf5 in bilm-tf's layout (read by allennlp's Elmo)");
        model.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(overwrite);
        device.AddTo(command);
        command.SetAction(result =>
        {
            string folder = result.GetValue(output)!;
            OutputPaths.CheckExportFolder(folder, "--out", result.GetValue(overwrite), model.Inputs(result));
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            using var lm = model.Open(result, dev);
            var written = PublishedExport.Write(lm, folder);
            Console.WriteLine($"exported to {folder}: {string.Join(", ", written.Files)}");
            Console.WriteLine("not expressible in the published options and weights:");
            foreach (var line in written.LeftOut) Console.WriteLine($"  - {line}");
            return 0;
        });
        return command;
    }
}
