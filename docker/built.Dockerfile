# bench-pipeline tool image for a tool built from its suite recipe (`build:` in the suite file,
# bench_pipeline/builds) that has no Dockerfile of its own: the git image plus the executables of
# one build — one image per revision (tool@rev). images/tools.py copies the build's bin/ directory
# from the tool cache into the build context; the image's tag includes each executable's digest.
#
# Builds run on the host, not in a build container: the tool cache is shared by both backends, so a
# revision is built once whether it is measured locally or here (docs/docker.md, "Tool revisions").
ARG BASE
FROM ${BASE}
ARG BENCH_UID=1000

USER root
COPY bin/ /usr/local/bin/
RUN chmod -R a+rx /usr/local/bin

USER ${BENCH_UID}:${BENCH_UID}
