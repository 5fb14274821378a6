//! Workloads of the benchmarks: small, deterministic, with a wide range of run times.

pub fn fibonacci(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fibonacci(n - 1) + fibonacci(n - 2)
    }
}

pub fn sum_to(n: u64) -> u64 {
    (0..n).fold(0, |acc, x| acc.wrapping_add(x * x))
}
