//! criterion benchmarks whose times span picoseconds to seconds; names with spaces and parameters.
//! The slow ones use `iter_custom` reporting a fixed duration per iteration, so that a "seconds"
//! result takes no time to produce. BENCH_PANIC=1 adds a last benchmark that panics (results before it are printed).
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ingest_rust_bench_demo::{fibonacci, sum_to};

fn benches(c: &mut Criterion) {
    c.bench_function("add two", |b| b.iter(|| black_box(1u64) + black_box(2u64)));
    c.bench_function("fib 10", |b| b.iter(|| fibonacci(black_box(10))));
    c.bench_function("fib 22", |b| b.iter(|| fibonacci(black_box(22))));
    let mut group = c.benchmark_group("sum to");
    for n in [100u64, 10_000] {
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| b.iter(|| sum_to(black_box(n))));
    }
    group.finish();
    c.bench_function("fixed 2.5 ms", |b| {
        b.iter_custom(|iters| Duration::from_secs_f64(0.0025 * iters as f64))
    });
    c.bench_function("fixed 1.5 s", |b| {
        b.iter_custom(|iters| Duration::from_secs_f64(1.5 * iters as f64))
    });
    if std::env::var_os("BENCH_PANIC").is_some() {
        c.bench_function("panics", |b| b.iter(|| panic!("this benchmark was asked to panic")));
    }
}

criterion_group! {
    name = demo;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700));
    targets = benches
}
criterion_main!(demo);
