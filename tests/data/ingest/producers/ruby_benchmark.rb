# Ruby's standard Benchmark module, as a team's script uses it: `bm` and `bmbm` (with its rehearsal).
# Run: ruby ruby_benchmark.rb bm  > ruby-benchmark-bm.txt
#      ruby ruby_benchmark.rb bmbm > ruby-benchmark-bmbm.txt
require "benchmark"

n = 200_000
mode = ARGV.fetch(0, "bm")
Benchmark.public_send(mode, 12) do |x|
  x.report("for loop:") { for i in 1..n; a = "1"; end }
  x.report("times:") { n.times { a = "1" } }
  x.report("upto each:") { 1.upto(n) { a = "1" } }
  x.report("sleep 0.05") { sleep 0.05 }
end
