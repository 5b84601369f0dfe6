"""What one call may ask of the server, and the error for asking more."""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.errors import FieldViolation, ResourceExhausted


@dataclass(frozen=True)
class ForecastLimits:
    """Upper bounds on one request; the service's settings set them."""

    #: Returns in one series.
    max_returns: int = 200_000
    #: Bars one forecast reaches ahead.
    max_horizon: int = 2_520
    #: Simulated paths per method.
    max_paths: int = 20_000
    #: Simulated cells (paths x horizon) per method and forecast.
    max_path_cells: int = 10_000_000
    #: Paths when a request asks for 0.
    default_paths: int = 2_000
    #: Rolling origins in one calibration.
    max_origins: int = 500
    #: Simulated cells of a whole calibration (origins x methods x paths x longest horizon).
    max_calibration_cells: int = 2_000_000_000

    def __post_init__(self) -> None:
        for name in (
            "max_returns",
            "max_horizon",
            "max_paths",
            "max_path_cells",
            "default_paths",
            "max_origins",
            "max_calibration_cells",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"forecast limit {name} must be positive")
        if self.default_paths > self.max_paths:
            raise ValueError("the default number of paths exceeds the maximum")


def too_large(field: str, description: str, limit: int, asked: int) -> ResourceExhausted:
    """RESOURCE_EXHAUSTED naming the field, with the limit in the metadata."""
    return ResourceExhausted(
        f"{field}: {description}",
        metadata={"field": field, "limit": str(limit), "requested": str(asked)},
        violations=[FieldViolation(field, description)],
    )
