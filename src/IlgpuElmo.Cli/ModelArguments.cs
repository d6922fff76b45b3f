using System.CommandLine;
using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Model;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli;

/// <summary>
/// Where a trained model comes from, for every command that uses one: `--model DIR` (a folder written
/// by `elmo train`), or published weights as `--options options.json --weights weights.hdf5`
/// (and their vocabulary: `--vocab`, else the vocab.txt beside the weights).
/// </summary>
sealed class ModelArguments
{
    public readonly Option<string?> Model = new("--model") { Description = "A run folder written by `elmo train`" };
    public readonly Option<string?> Options = new("--options") { Description = "Published options JSON (with --weights)" };
    public readonly Option<string?> Weights = new("--weights") { Description = "Published HDF5 weights in bilm-tf/allennlp layout (with --options)" };
    public readonly Option<string?> Vocab = new("--vocab") { Description = "Vocabulary for published weights (default: vocab.txt beside --weights, as `elmo export` writes it); a word-input model and eval need one" };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Options);
        command.Options.Add(Weights);
        command.Options.Add(Vocab);
    }

    /// <summary>
    /// Loads the model; its options' precision applies to the device unless --precision was given. A command
    /// that computes perplexity sets <paramref name="needsSoftmax"/>: published weights must then come
    /// with their trained softmax and its vocabulary.
    /// </summary>
    public BidirectionalLanguageModel Open(ParseResult result, ComputeDevice device, bool needsSoftmax = false)
    {
        var model = Load(result, device, needsSoftmax);
        device.ApplyModelPrecision(model.Options.Precision);
        return model;
    }

    /// <summary>The files and folders the model is read from, for <see cref="OutputPaths"/>: an output is never one of them.</summary>
    public IEnumerable<OutputPaths.Input> Inputs(ParseResult result)
    {
        if (result.GetValue(Model) is { } model) yield return new("--model", model);
        if (result.GetValue(Options) is { } options) yield return new("--options", options);
        if (result.GetValue(Vocab) is { } vocab) yield return new("--vocab", vocab);
        if (result.GetValue(Weights) is { } weights)
        {
            yield return new("--weights", weights);
            if (PublishedExport.SoftmaxBeside(weights) is { } softmax) yield return new("the softmax beside --weights", softmax);
            if (PublishedExport.VocabularyBeside(weights) is { } besideVocab) yield return new("the vocabulary beside --weights", besideVocab);
        }
    }

    BidirectionalLanguageModel Load(ParseResult result, ComputeDevice device, bool needsSoftmax)
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
        // An export's vocabulary lies beside its weights: used unless --vocab names another.
        string? vocabPath = result.GetValue(Vocab);
        if (vocabPath is null && PublishedExport.VocabularyBeside(weights) is { } beside)
        {
            vocabPath = beside;
            Console.Error.WriteLine($"vocabulary: {beside}, beside the weights (--vocab gives another)");
        }
        var vocab = vocabPath is null ? null : Vocabulary.Load(vocabPath);
        return BidirectionalLanguageModel.LoadPublished(device, options, weights, vocab, PublishedExport.SoftmaxBeside(weights), needsSoftmax);
    }
}
