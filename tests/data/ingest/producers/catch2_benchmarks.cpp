// Catch2 (v2, Debian's catch2 package) benchmarks, as a C++ team writes them.
// Build: g++ -O2 -std=c++17 -DCATCH_CONFIG_ENABLE_BENCHMARKING catch2_benchmarks.cpp -o catch2_demo
// Run:   ./catch2_demo --benchmark-samples 20            > catch2.txt       (console reporter)
//        ./catch2_demo --benchmark-samples 20 -r xml     > catch2.xml       (XML reporter)
#define CATCH_CONFIG_MAIN
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <vector>

static std::uint64_t fibonacci(std::uint64_t n) { return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2); }

TEST_CASE("Fibonacci") {
    CHECK(fibonacci(10) == 55);
    BENCHMARK("Fibonacci 10") { return fibonacci(10); };
    BENCHMARK("Fibonacci 25") { return fibonacci(25); };
}

TEST_CASE("Vectors") {
    BENCHMARK_ADVANCED("fill and sum 10000")(Catch::Benchmark::Chronometer meter) {
        std::vector<std::uint64_t> v(10000);
        meter.measure([&] {
            std::iota(v.begin(), v.end(), 0);
            return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
        });
    };
    BENCHMARK("add two") { return 1 + 2; };
}
