// The tests share two CPU-accelerator devices (kernels compile once per device); ILGPU's CPU
// accelerator runs one launch at a time across all cores, so test classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
