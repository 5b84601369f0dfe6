"""The backtest service's domain: run records, the KPI store and the facade. No gRPC here."""
