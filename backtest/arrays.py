"""Array type aliases shared by the engine's modules."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.int64]
#: Times as microseconds since the Unix epoch, UTC (the bar table's `timestamp[us, UTC]`).
TimeArray: TypeAlias = npt.NDArray[np.int64]
#: The side a strategy wants per row and symbol: +1 long, 0 flat, -1 short.
SideArray: TypeAlias = npt.NDArray[np.int8]
