using System.CommandLine;
using IlgpuElmo.Data;
using IlgpuElmo.Model;
using IlgpuElmo.Devices;

namespace IlgpuElmo.Cli;

/// <summary>
/// Where a trained model comes from, for every command that uses one: `--model DIR` (a folder written
/// by `elmo train`), or published weights as `--options options.json --weights weights.hdf5`
/// (plus `--vocab` for a word-input model).
/// </summary>
sealed class ModelArguments
{
    public readonly Option<string?> Model = new("--model") { Description = "A run folder written by `elmo train`" };
    public readonly Option<string?> Options = new("--options") { Description = "Published options JSON (with --weights)" };
    public readonly Option<string?> Weights = new("--weights") { Description = "Published HDF5 weights in bilm-tf/allennlp layout (with --options)" };
    public readonly Option<string?> Vocab = new("--vocab") { Description = "Vocabulary for published weights (needed for word-input models)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Options);
        command.Options.Add(Weights);
        command.Options.Add(Vocab);
    }

    /// <summary>Loads the model; its options' precision applies to the device unless --precision was given.</summary>
    public BidirectionalLanguageModel Open(ParseResult result, ComputeDevice device)
    {
        var model = Load(result, device);
        device.ApplyModelPrecision(model.Options.Precision);
        return model;
    }

    BidirectionalLanguageModel Load(ParseResult result, ComputeDevice device)
    {
        string? model = result.GetValue(Model), options = result.GetValue(Options), weights = result.GetValue(Weights);
        if (model is not null)
        {
            if (options is not null || weights is not null)
                throw new InputException("Give either --model DIR or --options with --weights, not both.");
            return BidirectionalLanguageModel.Load(device, model);
        }
        if (options is null || weights is null)
            throw new InputException("No model given: use --model DIR (a folder from `elmo train`) or --options options.json --weights weights.hdf5.");
        var vocab = result.GetValue(Vocab) is { } v ? Vocabulary.Load(v) : null;
        return BidirectionalLanguageModel.LoadPublished(device, options, weights, vocab, PublishedExport.SoftmaxBeside(weights));
    }
}
