# bench-pipeline tool image for git and git-worktree: Debian's git, Python 3 and the runner.
#
# Built by bench_pipeline/execution/images.py (`bench-pipeline images build`), FROM a base tag that exists
# locally (a debootstrap rootfs imported with `docker import`, or a pulled debian:trixie-slim),
# so no registry is contacted. The build context holds bench/ (runner.py, cgroup.py and, where a
# static C toolchain exists, the bench-exec helper). Build args are set by images.py.
ARG BASE=bench-pipeline/base:trixie
FROM ${BASE}

# python3, not python3-minimal: the runner needs json, selectors and subprocess (libpython3-stdlib)
ARG APT_PACKAGES="python3 git"
ARG BENCH_UID=1000

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8

RUN apt-get update \
 && apt-get install -y --no-install-recommends ${APT_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log \
 && groupadd --gid ${BENCH_UID} bench \
 && useradd --uid ${BENCH_UID} --gid bench --home-dir /work --no-create-home --shell /usr/sbin/nologin bench

COPY bench/ /opt/bench/

# /opt/bench/gitconfig: the global git config of measured commands in containers (the Docker
# backend sets GIT_CONFIG_GLOBAL to it). Its only setting: the pristine fixtures under the
# read-only /fixtures mount belong to the host's user, not to the bench user, and git (and jj's
# git subprocess) refuse to read a repository of another owner unless safe.directory allows it.
# smoke test: the runner answers and the tool runs, or the build fails here rather than at run time
RUN printf '[safe]\n\tdirectory = *\n' > /opt/bench/gitconfig \
 && chmod -R a+rX /opt/bench \
 && echo '{"op": "info"}' | python3 -I -S /opt/bench/runner.py --serve \
 && git --version

USER ${BENCH_UID}:${BENCH_UID}
WORKDIR /work
CMD ["python3", "-I", "-S", "/opt/bench/runner.py", "--serve"]
