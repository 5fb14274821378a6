//! Two benchmark shapes: a plain function and a group with an input parameter.
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ingest_criterion_demo::fib;
use std::time::Duration;

fn plain(c: &mut Criterion) {
    c.bench_function("fib 10", |b| b.iter(|| fib(black_box(10))));
}

fn grouped(c: &mut Criterion) {
    let mut group = c.benchmark_group("fib");
    for n in [5u64, 12] {
        group.bench_with_input(BenchmarkId::new("recursive", n), &n, |b, &n| b.iter(|| fib(black_box(n))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(300))
        .without_plots();
    targets = plain, grouped
}
criterion_main!(benches);
