# syntax=docker/dockerfile:1
# The Async Coder image: one image for the API (`asynccoder serve`, the default command) and the task worker
# (`asynccoder worker`). Build: docker build -t asynccoder .   (compose.yaml builds and runs it.)

# --- build: install the package and its locked dependencies into a virtual environment -------------------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# The lock first, so that the dependency layer is rebuilt only when the lock changes.
COPY constraints.txt ./
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install -c constraints.txt . \
 && /opt/venv/bin/pip check

# --- runtime: slim, non-root, with what the coding agent runs (git, bubblewrap, ripgrep) -----------------------
FROM python:3.11-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      git bubblewrap ripgrep ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 asynccoder \
 && useradd --system --uid 10001 --gid asynccoder --home-dir /var/lib/asynccoder --create-home \
      --shell /usr/sbin/nologin asynccoder
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/asynccoder \
    ASYNCCODER_DATA_DIR=/var/lib/asynccoder
WORKDIR /var/lib/asynccoder
# Non-root: the sandbox's process limit (RLIMIT_NPROC) applies only to a non-root user.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# tini is PID 1: it forwards SIGTERM (graceful shutdown) and reaps the git and sandbox processes tasks start.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["asynccoder", "serve", "--host", "0.0.0.0", "--port", "8000"]
