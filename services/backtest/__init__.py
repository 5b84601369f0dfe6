"""The backtest service: runs `backtest` engine strategies over the mesh's data and keeps every
run's config, KPIs, equity curve and trades in DuckDB."""
