"""Benchmarks are collected from this directory only when asked (see .ci/run)."""
