"""One driver per benchmarked system; each has one method per workload of
:mod:`bench.workload` and returns that workload's result dict."""
