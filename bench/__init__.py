"""Benchmarks of flink-agents against baselines measured in the same run (`make bench`)."""
