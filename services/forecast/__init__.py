"""forecast: probabilistic KPI forecasts (percentile bands) and their calibration on history."""
