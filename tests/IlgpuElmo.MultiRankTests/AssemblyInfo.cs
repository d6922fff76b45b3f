// Each test starts two-rank jobs on a 2-core machine: one job at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
