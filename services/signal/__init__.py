"""The signal service: LightGBM signal models, their registry, scoring and signal streams."""
