//! The original iai (0.1): instruction counts and cache accesses under valgrind's cachegrind.
use iai::black_box;
use ingest_rust_bench_demo::{fibonacci, sum_to};

fn iai_fibonacci_10() -> u64 {
    fibonacci(black_box(10))
}

fn iai_sum_to_1000() -> u64 {
    sum_to(black_box(1000))
}

iai::main!(iai_fibonacci_10, iai_sum_to_1000);
