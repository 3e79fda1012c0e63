"""What the tests and benchmarks share: the end-to-end models (cases), the
runner and comparison of generated programs (harness) and the PyTorch
networks (networks, needs torch)."""
