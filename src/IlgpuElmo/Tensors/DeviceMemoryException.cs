namespace IlgpuElmo.Tensors;

/// <summary>The accelerator ran out of memory; the message says how much was asked and what to lower.</summary>
public sealed class DeviceMemoryException(string message, Exception inner) : Exception(message, inner);
