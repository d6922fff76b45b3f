namespace IlgpuElmo;

/// <summary>
/// Bad input from the user (a file, a line, an option): the message names where and says what to do.
/// The command-line program prints it without a stack trace and exits with code 2.
/// </summary>
public class InputException(string message, Exception? inner = null) : Exception(message, inner);
