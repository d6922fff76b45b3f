namespace IlgpuElmo.Tests.Cli;

/// <summary>
/// Captures what a command prints on stdout and stderr (test classes run one at a time, so redirecting
/// the process's console is safe).
/// </summary>
public sealed class CapturedConsole : IDisposable
{
    readonly TextWriter oldOut = Console.Out, oldError = Console.Error;
    readonly StringWriter output = new(), error = new();

    public CapturedConsole()
    {
        Console.SetOut(output);
        Console.SetError(error);
    }

    public string Output => output.ToString();
    public string Error => error.ToString();

    public void Dispose()
    {
        Console.SetOut(oldOut);
        Console.SetError(oldError);
    }
}
