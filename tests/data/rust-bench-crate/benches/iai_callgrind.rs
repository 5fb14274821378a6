//! iai-callgrind library benchmarks: instruction counts (and cache events) under valgrind's callgrind.
use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use ingest_rust_bench_demo::{fibonacci, sum_to};

#[library_benchmark]
#[bench::short(10)]
#[bench::long(20)]
fn bench_fibonacci(value: u64) -> u64 {
    black_box(fibonacci(value))
}

#[library_benchmark]
#[bench::hundred(100)]
fn bench_sum_to(value: u64) -> u64 {
    black_box(sum_to(value))
}

library_benchmark_group!(name = demo_group; benchmarks = bench_fibonacci, bench_sum_to);
main!(library_benchmark_groups = demo_group);
