using System.CommandLine;
using IlgpuElmo.Cli.Progress;
using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Formats;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli.Commands;

/// <summary>
/// `elmo dump-token-embeddings --model M --vocab words.txt --out tokens.hdf5`: the context-free layer
/// for every word, one dataset `embedding` [n_words, P], as bilm-tf's dump_token_embeddings writes it.
/// </summary>
static class DumpTokenEmbeddingsCommand
{
    public static Command Create()
    {
        var device = new DeviceArguments();
        var model = new ModelArguments();
        var output = new Option<string>("--out") { Description = "HDF5 file to write (an existing file only with --overwrite)", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace --out if it exists" };
        var command = new Command("dump-token-embeddings", "Write the context-free token vector of every word of a list (bilm-tf's dump_token_embeddings)");
        command.Options.Add(output);
        command.Options.Add(overwrite);
        model.AddTo(command);
        device.AddTo(command);
        command.SetAction(result =>
        {
            string path = result.GetValue(model.Vocab) ?? throw new InputException("--vocab is required: the words (one per line) to compute token vectors for.");
            InputFiles.RefuseFolder(path, "--vocab", "words.txt");
            if (!File.Exists(path)) throw new InputException($"--vocab '{path}' does not exist.");
            OutputPaths.CheckFile(result.GetValue(output)!, "--out", "tokens.hdf5", result.GetValue(overwrite), model.Inputs(result));
            using var dev = ComputeDevice.Create(device.Parse(result), Console.Error);
            using var lm = model.Open(result, dev);
            var list = File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
            var vectors = ConsoleProgress.Run("dump-token-embeddings", "words", list.Count, progress => lm.TokenVectors(list, progress));
            TokenEmbeddingsFile.Write(result.GetValue(output)!, vectors, list.Count, lm.Options.TokenDim);
            Console.WriteLine($"{list.Count} words x {lm.Options.TokenDim} -> {result.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
