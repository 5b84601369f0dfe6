# syntax=docker/dockerfile:1
# One image for every quantmesh service: `quantmesh up` with the service chosen by arguments
# (`--service signal --port 50051`) and settings by environment (README "Settings").
#
#   docker build -t quantmesh:0.1.0 .
#   docker run --rm -p 50051:50051 -v quantmesh-data:/var/lib/quantmesh quantmesh:0.1.0
#       (no arguments: every service in one process, the embedded default)
#   docker run --rm -p 50051:50051 quantmesh:0.1.0 --service marketdata --port 50051
#
# Kubernetes runs it read-only as UID 10001 with /tmp and the data folder mounted (deploy/k8s).

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: the project and its dependencies in a virtual environment ----------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers only for a dependency without a wheel for this platform (TA-Lib, DuckDB, LightGBM,
# Prophet and the rest come as wheels from PyPI); none of this reaches the final image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml README.md ./
# torch, when the project lists it, is installed first and pinned, before anything that depends
# on it can pull another build (TORCH_INDEX_URL, e.g. https://download.pytorch.org/whl/cpu,
# picks the CPU-only wheels).
ARG TORCH_INDEX_URL=""
RUN if grep -q '"torch' pyproject.toml; then \
        pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0; \
    fi
RUN mkdir -p services gen/python \
    && touch services/__init__.py \
    && pip install . \
    && pip uninstall -y quantmesh

# The code: services, the backtest engine and the generated protobuf modules.
COPY services ./services
COPY backtest ./backtest
COPY gen ./gen
RUN pip install --no-deps . \
    && quantmesh --help > /dev/null

# ---- runtime -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# libgomp: OpenMP for LightGBM and scikit-learn.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
# A numeric, non-root user (Kubernetes' runAsNonRoot can verify a numeric USER).
RUN groupadd --system --gid 10001 quantmesh \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/quantmesh --shell /usr/sbin/nologin quantmesh \
    && mkdir -p /var/lib/quantmesh \
    && chown 10001:10001 /var/lib/quantmesh
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/quantmesh \
    MPLCONFIGDIR=/tmp/matplotlib \
    QUANTMESH_HOST=0.0.0.0 \
    QUANTMESH_PORT=50051 \
    QUANTMESH_DATA_DIR=/var/lib/quantmesh
# Stores (DuckDB files, embedded MongoDB and MLflow) live here: mount a volume.
VOLUME ["/var/lib/quantmesh"]
WORKDIR /var/lib/quantmesh
USER 10001:10001
EXPOSE 50051
ENTRYPOINT ["quantmesh", "up"]
CMD []
