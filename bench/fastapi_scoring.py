"""The baseline of bench/signal_serving.py: the same model behind FastAPI + uvicorn, JSON in/out.

This is the stack such platforms usually start from: a model loaded from the MLflow registry at
start-up, `POST /score` with `{"rows": [{"symbol": ..., "time": ..., <feature>: ...}, ...]}`,
answering `{"scores": [...], "model_version": N}`. Run by the benchmark as

    QUANTMESH_BENCH_MLFLOW=<root> QUANTMESH_BENCH_MODEL=<name@alias> \\
        uvicorn bench.fastapi_scoring:app --port N
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI

from services.signal.domain.refs import ModelRef
from services.signal.domain.registry import ModelRegistry

_registry = ModelRegistry.local(Path(os.environ["QUANTMESH_BENCH_MLFLOW"]))
_model = _registry.load(_registry.resolve(ModelRef.parse(os.environ["QUANTMESH_BENCH_MODEL"])))
_names = list(_model.feature_names)

app = FastAPI()


@app.post("/score")
def score(payload: dict[str, Any]) -> dict[str, Any]:
    rows = payload["rows"]
    matrix = np.array(
        [[np.nan if r.get(n) is None else r[n] for n in _names] for r in rows], dtype=np.float64
    )
    scores = _model.booster.predict(matrix)
    return {"scores": scores.tolist(), "model_version": _model.version}
