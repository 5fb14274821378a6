//! libtest `#[bench]` benchmarks. BENCH_PANIC=1 makes one of them panic, as a broken benchmark does.
#![feature(test)]
extern crate test;

use ingest_rust_bench_demo::{fibonacci, sum_to};
use test::{black_box, Bencher};

#[bench]
fn add_two(b: &mut Bencher) {
    b.iter(|| black_box(1u64) + black_box(2u64))
}

#[bench]
fn fib_10(b: &mut Bencher) {
    b.iter(|| fibonacci(black_box(10)))
}

#[bench]
fn fib_25(b: &mut Bencher) {
    b.iter(|| fibonacci(black_box(25)))
}

#[bench]
fn panics_when_asked(b: &mut Bencher) {
    if std::env::var_os("BENCH_PANIC").is_some() {
        panic!("this benchmark was asked to panic");
    }
    b.iter(|| sum_to(black_box(100)))
}

#[bench]
fn sum_to_1000(b: &mut Bencher) {
    b.iter(|| sum_to(black_box(1000)))
}
