"""One-row predictions through LightGBM's single-row fast path.

`Booster.predict` builds a predictor, checks and converts its input and sizes its output on
every call: for one row that is several times the cost of walking the trees. LightGBM's C API
has a path made for one row at a time (`LGBM_BoosterPredictForMatSingleRowFastInit` once, then
`LGBM_BoosterPredictForMatSingleRowFast` per row) that keeps all of that prepared; this wraps it.
The answers are the ones `Booster.predict` gives (the same trees, iterations and transform).
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import lightgbm as lgb
import numpy as np
from lightgbm import basic

# LightGBM's loaded library (its Python package calls the C API through it too).
_LIB: Any = basic._LIB  # type: ignore[attr-defined]
_PREDICT_NORMAL = 0
_DTYPE_FLOAT64 = 1


def _check(code: int) -> None:
    if code != 0:
        raise lgb.basic.LightGBMError(_LIB.LGBM_GetLastError().decode("utf-8"))


class RowPredictor:
    """Predicts one feature row at a time with a booster's prepared single-row configuration.

    Thread-safe: the prepared configuration holds one row buffer, so calls take a lock.
    """

    def __init__(self, booster: lgb.Booster) -> None:
        self._booster = booster  # the configuration points into the booster: keep it alive
        self._columns = booster.num_feature()
        if booster.num_model_per_iteration() != 1:
            raise ValueError("one-row prediction serves single-output models only")
        handle = ctypes.c_void_p()
        _check(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(booster.best_iteration),  # <= 0: every iteration, as predict
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(self._columns),
                b"num_threads=1",
                ctypes.byref(handle),
            )
        )
        self._handle = handle
        self._out = np.empty(1, dtype=np.float64)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64()
        self._out_len_ref = ctypes.byref(self._out_len)
        self._lock = threading.Lock()
        self._free = weakref.finalize(self, _LIB.LGBM_FastConfigFree, handle)

    @property
    def columns(self) -> int:
        return self._columns

    def predict(self, row: np.ndarray) -> float:
        """The prediction for one row of `columns` values (NaN = missing), as `Booster.predict`."""
        values = np.ascontiguousarray(row, dtype=np.float64).reshape(-1)
        if values.shape[0] != self._columns:
            raise ValueError(f"expected {self._columns} feature values, got {values.shape[0]}")
        with self._lock:
            _check(
                _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                    self._handle,
                    values.ctypes.data_as(ctypes.c_void_p),
                    self._out_len_ref,
                    self._out_ptr,
                )
            )
            return float(self._out[0])
