# A fleet host's worker image, built offline FROM the project's git tool image (itself FROM the
# debootstrapped base: `bench-pipeline images build --tool git`), so no registry is contacted.
#
# It adds the worker's own settings; the project and its virtualenv come in as read-only mounts at
# their paths on the central machine (tests/integration/fleet_services.py, docs/scaling.md), which
# is how the test runs two hosts on this machine. A real host installs the project instead (the
# sketch in docs/scaling.md) and runs the same command:
#     bench-pipeline fleet worker --host-class bench-a --host host-a
ARG BASE
FROM ${BASE}
USER root
ENV BENCH_PIPELINE_HOME=/var/lib/bench-host BENCH_PIPELINE_PROFILE=fleet HOME=/tmp LANG=C.UTF-8
RUN mkdir -p /var/lib/bench-host && git config --system safe.directory '*'
WORKDIR /var/lib/bench-host
LABEL bench-pipeline.role=fleet-worker
