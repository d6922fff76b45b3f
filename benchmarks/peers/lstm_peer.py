"""PyTorch peer of LstmBenchmarks: cuDNN's LSTM with projection at ELMo's size, T = 20 steps,
B = 128 rows, input 512, cells 4096, projection 512 (time-major input [T, B, 512], as ours).
  layer forward            nn.LSTM(512, 4096, proj_size=512), one direction, under torch.no_grad()
  layer forward+backward   the same with autograd: output.backward(gradient) reaching input and weights
  bidirectional stack      ELMo's biLM body: per direction an nn.LSTM(512, 4096, num_layers=2, proj_size=512)
                           (layer 2 reads its own direction's 512-wide output, as in ELMo; PyTorch's
                           bidirectional=True would feed layer 2 both directions, 1024 wide), the backward
                           direction on the time-flipped input, the two directions on two CUDA streams,
                           forward + backward from the top outputs. No clips, no skip connection (cuDNN has
                           neither; ours clips cell and projection at 3 and adds the skip).
Weights uniform +-1/sqrt(4096) (PyTorch's default init). Gradients are set to None before each step.
fp32 runs with TF32 off for both cuBLAS and cuDNN (torch.backends.cudnn.allow_tf32 defaults to True);
TF32 with both on. Prints the median milliseconds over 50 timed runs after 10 warm-up runs.

Run on the GPU machine:  python3 benchmarks/peers/lstm_peer.py
"""

import torch

from timing import median_ms

T, B, IN, H, P = 20, 128, 512, 4096, 512



def main():
    device = "cuda"
    torch.manual_seed(1)
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name()}, "
          f"T={T} B={B} in={IN} H={H} P={P}")
    x = (torch.rand(T, B, IN, device=device) * 2 - 1).requires_grad_(True)
    dy = (torch.rand(T, B, P, device=device) * 2 - 1) * 1e-2
    layer = torch.nn.LSTM(IN, H, proj_size=P).to(device)
    directions = [torch.nn.LSTM(IN, H, num_layers=2, proj_size=P).to(device) for _ in range(2)]
    streams = [torch.cuda.Stream(), torch.cuda.Stream()]

    def layer_forward():
        with torch.no_grad():
            layer(x)

    def layer_forward_backward():
        x.grad = None
        layer.zero_grad(set_to_none=True)
        y, _ = layer(x)
        y.backward(dy)

    def bidirectional_forward_backward():
        x.grad = None
        main = torch.cuda.current_stream()
        for direction, (lstm, stream) in enumerate(zip(directions, streams)):
            lstm.zero_grad(set_to_none=True)
            stream.wait_stream(main)
            with torch.cuda.stream(stream):
                source = x.flip(0) if direction == 1 else x
                y, _ = lstm(source)
                y.backward(dy)
        for stream in streams:
            main.wait_stream(stream)

    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        precision = "tf32" if tf32 else "fp32"
        print(f"{precision} layer forward: {median_ms(layer_forward):.3f} ms")
        print(f"{precision} layer forward+backward: {median_ms(layer_forward_backward):.3f} ms")
        print(f"{precision} 2-layer bidirectional forward+backward (two streams): {median_ms(bidirectional_forward_backward):.3f} ms")


if __name__ == "__main__":
    main()
