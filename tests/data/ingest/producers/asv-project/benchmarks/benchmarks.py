"""asv benchmarks of every kind whose results file the ingestion reads: time (plain and
parameterised), mem, peakmem and track. Run (tests/data/ingest/README.md):
    git init -q && git add -A && git commit -qm demo
    asv machine --yes && asv run -E existing:same --set-commit-hash $(git rev-parse HEAD) --record-samples
"""


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class TimeSuite:
    def setup(self):
        self.d = {i: i for i in range(500)}

    def time_keys(self):
        for _ in self.d.keys():  # noqa: SIM118 (iterating the keys view is what is timed)
            pass

    def time_fib_15(self):
        fib(15)


class TimeParams:
    params = ([10, 1000], ["list", "tuple"])
    param_names = ["n", "container"]

    def time_build(self, n, container):
        (list if container == "list" else tuple)(range(n))


def mem_list():
    return [0] * 2048


def peakmem_bytearray():
    bytearray(4 * 2**20)


def track_answer():
    return 42


track_answer.unit = "answers"


def time_fails():
    raise RuntimeError("this benchmark fails on purpose")
