"""The signal service's domain (no gRPC).

- `frames`: the Arrow layouts of feature and label tables; label names are reserved
- `splits`: purged, embargoed walk-forward (and purged k-fold) splits over dates
- `metrics`: out-of-sample IC, rank IC, ICIR, hit rate, AUC, log loss; the leak warning
- `train_config`: TrainConfig (label, features, splits, LightGBM settings) and ModelKind
- `training`: `train_model`: LightGBM with purged walk-forward validation
- `results`: TrainingResult, TrainedModel, FoldReport: what a training run produces
- `refs`: model references (`name@alias`, `name/<version>`) and feature view references
- `registry`: MLflow runs, registered versions and aliases; loading a version
- `model_cards`: model cards in MongoDB (motor)
- `scoring`: ScoringModel: score and explain feature tables
- `serving`: ModelResolver: aliases followed without restart, loaded models cached
- `signal_log`: the DuckDB log of published signal batches (the resume cursor)
- `subscriptions`: SubscriptionHub: live fan-out with resume, heartbeats, slow-consumer policy
"""
