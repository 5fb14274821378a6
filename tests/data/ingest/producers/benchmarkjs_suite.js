// Benchmark.js (Debian's node-benchmark 2.1.4), printed the way its README shows: String(bench) per cycle.
// Run: NODE_PATH=/usr/share/nodejs node benchmarkjs_suite.js > ../benchmarkjs.txt
const Benchmark = require("benchmark");

function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

new Benchmark.Suite()
  .add("RegExp#test", () => /o/.test("Hello World!"))
  .add("String#indexOf", () => "Hello World!".indexOf("o") > -1)
  .add("fib(20)", () => fib(20))
  .add("Array sort 1000", () => Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000).sort((a, b) => a - b))
  .on("cycle", (event) => console.log(String(event.target)))
  .on("complete", function () { console.log("Fastest is " + this.filter("fastest").map("name")); })
  .run();
