"""The model registry on MLflow: log a training run, register versions, move aliases, load.

Each registered version comes from one MLflow run of the experiment (default `signal`) holding:
- params: the TrainConfig and LightGBM parameters;
- metrics: `oos_<metric>` overall, and `fold_<metric>` with step = fold index;
- tags (on run and version): `quantmesh.feature_view`, `quantmesh.feature_view_version`,
  `quantmesh.data_watermark` (ISO 8601), `quantmesh.label`, `quantmesh.kind`,
  `quantmesh.data_hash`, `quantmesh.train_start`, `quantmesh.train_end`, `quantmesh.leak_warning`;
- artifacts under `model/`: `model.txt` (LightGBM native text) and `model.json` (feature names in
  order, label, kind, rounds, feature view, data hash).

Locally the store is `sqlite:///<root>/mlflow.db` with artifacts in `<root>/mlartifacts`
(`ModelRegistry.local`); in a cluster, any MLflow tracking server URI. Every method blocks on the
store: call it from a worker thread in async code. MLflow is imported on first use, or up front
with `load_client_code` (the signal service does so at start-up).
"""

from __future__ import annotations

import importlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb

from services.runtime.errors import InvalidArgument, NotFound, QuantmeshError, Unavailable
from services.signal.domain.refs import (
    CHALLENGER,
    CHAMPION,
    FeatureViewRef,
    ModelRef,
    check_alias,
    check_model_name,
)
from services.signal.domain.results import TrainingResult
from services.signal.domain.scoring import ScoringModel
from services.signal.domain.train_config import ModelKind

TAG = "quantmesh."
_MODEL_DIR = "model"


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version and its provenance."""

    name: str
    version: int
    run_id: str
    source: str
    aliases: tuple[str, ...]
    created_at: datetime
    label: str
    kind: ModelKind
    feature_view: FeatureViewRef
    data_hash: str
    tags: dict[str, str]

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.name, version=self.version)


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: its versions (newest first) and where its aliases point."""

    name: str
    versions: tuple[ModelVersionInfo, ...]
    aliases: dict[str, int]


@dataclass(frozen=True)
class Promotion:
    """The outcome of moving an alias: the version it points at now, and before (if any)."""

    alias: str
    version: ModelVersionInfo
    previous_version: int | None


class ModelRegistry:
    """Registered signal models in MLflow."""

    def __init__(
        self,
        tracking_uri: str,
        artifact_location: str | None = None,
        experiment: str = "signal",
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.experiment = experiment
        self._client: Any = None
        self._experiment_id: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def local(cls, root: Path, experiment: str = "signal") -> ModelRegistry:
        """A registry in `root`: SQLite store `mlflow.db` and artifacts in `mlartifacts/`."""
        root = Path(root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{root / 'mlflow.db'}", (root / "mlartifacts").as_uri(), experiment)

    def register(
        self,
        name: str,
        result: TrainingResult,
        feature_view: FeatureViewRef,
        aliases: Sequence[str] | None = None,
    ) -> ModelVersionInfo:
        """Log the run, register it as the next version of `name`, and set aliases.

        `aliases=None` applies the default policy: the new version becomes `challenger`, and
        also `champion` when the model has none yet. Pass `()` to set none.
        """
        check_model_name(name)
        for alias in aliases or ():
            check_alias(alias)
        client = self._connect()
        from mlflow.exceptions import MlflowException

        tags = _tags(result, feature_view)
        with _mlflow_errors(f"model {name}"):
            run = client.create_run(
                self._experiment(), run_name=f"{name}-{int(time.time())}", tags=tags
            )
        run_id = run.info.run_id
        try:
            self._log_run(client, run_id, result, feature_view)
            client.set_terminated(run_id, "FINISHED")
        except Exception:
            client.set_terminated(run_id, "FAILED")
            raise
        with _mlflow_errors(f"model {name}"):
            try:
                client.create_registered_model(name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            created = client.create_model_version(
                name, source=f"{run.info.artifact_uri}/{_MODEL_DIR}", run_id=run_id, tags=tags
            )
            version = int(created.version)
            if aliases is None:
                current = client.get_registered_model(name).aliases or {}
                aliases = (CHALLENGER,) if CHAMPION in current else (CHAMPION, CHALLENGER)
            for alias in aliases:
                client.set_registered_model_alias(name, alias, str(version))
        return self.version(name, version)

    def promote(self, name: str, alias: str, version: int) -> Promotion:
        """Point `alias` of `name` at `version` (moving it from where it was)."""
        check_alias(alias)
        before = self.model(name).aliases.get(alias)
        self.version(name, version)  # NotFound for an unknown version
        with _mlflow_errors(f"model {name}"):
            self._connect().set_registered_model_alias(name, alias, str(version))
        return Promotion(alias, self.version(name, version), before)

    def remove_alias(self, name: str, alias: str) -> None:
        """Drop `alias` from `name`; NotFound when it is not set."""
        check_alias(alias)
        if alias not in self.model(name).aliases:
            raise NotFound(f"model {name} has no alias {alias}", metadata={"model": name})
        with _mlflow_errors(f"model {name}"):
            self._connect().delete_registered_model_alias(name, alias)

    def resolve(self, ref: ModelRef | str) -> ModelVersionInfo:
        """The version a reference names now; NotFound for an unknown model, alias or version."""
        ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
        if ref.version is not None:
            return self.version(ref.name, ref.version)
        assert ref.alias is not None
        check_model_name(ref.name)
        # One registry query: this runs every alias TTL while the model is serving.
        try:
            with _mlflow_errors(f"model {ref.name} alias {ref.alias}"):
                return _info(self._connect().get_model_version_by_alias(ref.name, ref.alias))
        except (NotFound, InvalidArgument):  # MLflow calls a missing alias an invalid value
            pass
        # The model or the alias is missing: the longer way tells which.
        version = self.model(ref.name).aliases.get(ref.alias)
        if version is None:
            raise NotFound(
                f"model {ref.name} has no alias {ref.alias}",
                reason="ALIAS_NOT_FOUND",
                metadata={"model": ref.name, "alias": ref.alias},
            )
        return self.version(ref.name, version)

    def version(self, name: str, version: int) -> ModelVersionInfo:
        """One version; NotFound when the model or version does not exist."""
        check_model_name(name)
        if version < 1:
            raise InvalidArgument.for_field("version", f"{version} is not positive")
        with _mlflow_errors(f"model {name} version {version}"):
            found = self._connect().get_model_version(name, str(version))
        return _info(found)

    def model(self, name: str) -> RegisteredModel:
        """One registered model with its versions and aliases; NotFound when unknown."""
        check_model_name(name)
        client = self._connect()
        with _mlflow_errors(f"model {name}"):
            registered = client.get_registered_model(name)
            versions = client.search_model_versions(f"name = '{name}'")
        return _registered(registered, versions)

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name, each with its versions (newest first)."""
        client = self._connect()
        models = []
        with _mlflow_errors("registered models"):
            token = None
            while True:
                page = client.search_registered_models(max_results=100, page_token=token)
                for registered in page:
                    versions = client.search_model_versions(f"name = '{registered.name}'")
                    models.append(_registered(registered, versions))
                token = page.token
                if not token:
                    break
        return sorted(models, key=lambda m: m.name)

    def load(self, info: ModelVersionInfo) -> ScoringModel:
        """The version's booster and metadata, downloaded from its run's artifacts."""
        client = self._connect()
        with tempfile.TemporaryDirectory() as tmp, _mlflow_errors(f"model {info.name}"):
            local = Path(client.download_artifacts(info.run_id, _MODEL_DIR, tmp))
            meta = json.loads((local / "model.json").read_text())
            booster = lgb.Booster(model_str=(local / "model.txt").read_text())
        return ScoringModel(
            name=info.name,
            version=info.version,
            booster=booster,
            feature_names=tuple(meta["feature_names"]),
            label=meta["label"],
            kind=ModelKind(meta["kind"]),
            feature_view=info.feature_view,
        )

    @staticmethod
    def load_client_code() -> None:
        """Import MLflow's client and SQL store code now rather than at the first training: a
        service calls this at start-up, so those long-lived module objects (about 230k) exist
        before the process freezes its start-up objects away from the garbage collector."""
        for module in (
            "mlflow",
            "mlflow.store.tracking.sqlalchemy_store",
            "mlflow.store.model_registry.sqlalchemy_store",
        ):
            importlib.import_module(module)

    def _connect(self) -> Any:
        with self._lock:
            if self._client is None:
                from mlflow import MlflowClient

                with _mlflow_errors("the MLflow store"):
                    self._client = MlflowClient(
                        tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
                    )
            return self._client

    def _experiment(self) -> str:
        with self._lock:
            if self._experiment_id is not None:
                return self._experiment_id
        from mlflow.exceptions import MlflowException

        client = self._connect()
        with _mlflow_errors(f"experiment {self.experiment}"):
            found = client.get_experiment_by_name(self.experiment)
            if found is not None:
                experiment_id = str(found.experiment_id)
            else:
                try:
                    experiment_id = str(
                        client.create_experiment(
                            self.experiment, artifact_location=self.artifact_location
                        )
                    )
                except MlflowException as exc:  # created meanwhile by another process
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    experiment_id = str(
                        client.get_experiment_by_name(self.experiment).experiment_id
                    )
        with self._lock:
            self._experiment_id = experiment_id
        return experiment_id

    def _log_run(
        self, client: Any, run_id: str, result: TrainingResult, feature_view: FeatureViewRef
    ) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        params = {
            **_config_params(result),
            **{f"lgb_{k}": v for k, v in result.model.params.items()},
        }
        metrics = [Metric(f"oos_{k}", v, now, 0) for k, v in result.overall.as_dict().items()]
        for fold in result.folds:
            for key, value in fold.metrics.as_dict().items():
                metrics.append(Metric(f"fold_{key}", value, now, fold.index))
            metrics.append(Metric("fold_best_iteration", fold.best_iteration, now, fold.index))
        metrics.append(Metric("num_rounds", result.model.num_rounds, now, 0))
        with _mlflow_errors("the training run"):
            client.log_batch(
                run_id,
                metrics=metrics,
                params=[Param(k, str(v)[:500]) for k, v in sorted(params.items())],
            )
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / _MODEL_DIR
                folder.mkdir()
                (folder / "model.txt").write_text(result.model.model_string())
                (folder / "model.json").write_text(
                    json.dumps(_model_meta(result, feature_view), indent=2, default=str)
                )
                client.log_artifacts(run_id, str(folder), _MODEL_DIR)


def _config_params(result: TrainingResult) -> dict[str, Any]:
    config = asdict(result.config)
    config.pop("features", None)
    extra = config.pop("extra_params", {}) or {}
    config.update({f"extra_{k}": v for k, v in extra.items()})
    config["embargo"] = result.config.effective_embargo
    config["n_features"] = len(result.model.feature_names)
    return config


def _model_meta(result: TrainingResult, feature_view: FeatureViewRef) -> dict[str, Any]:
    return {
        "feature_names": list(result.model.feature_names),
        "label": result.model.label,
        "kind": result.model.kind.value,
        "num_rounds": result.model.num_rounds,
        "feature_view": feature_view.name,
        "feature_view_version": feature_view.version,
        "data_watermark": _iso(feature_view.watermark),
        "data_hash": result.data_hash,
        "train_start": result.window.start.isoformat(),
        "train_end": result.window.end.isoformat(),
        "warnings": list(result.warnings),
    }


def _tags(result: TrainingResult, feature_view: FeatureViewRef) -> dict[str, str]:
    return {
        f"{TAG}feature_view": feature_view.name,
        f"{TAG}feature_view_version": feature_view.version,
        f"{TAG}data_watermark": _iso(feature_view.watermark),
        f"{TAG}label": result.model.label,
        f"{TAG}kind": result.model.kind.value,
        f"{TAG}data_hash": result.data_hash,
        f"{TAG}train_start": result.window.start.isoformat(),
        f"{TAG}train_end": result.window.end.isoformat(),
        f"{TAG}leak_warning": "true" if result.warnings else "false",
    }


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def _info(found: Any) -> ModelVersionInfo:
    tags = dict(found.tags or {})
    watermark = tags.get(f"{TAG}data_watermark", "")
    return ModelVersionInfo(
        name=found.name,
        version=int(found.version),
        run_id=found.run_id or "",
        source=found.source or "",
        aliases=tuple(sorted(found.aliases or ())),
        created_at=datetime.fromtimestamp(found.creation_timestamp / 1000, tz=UTC),
        label=tags.get(f"{TAG}label", ""),
        kind=ModelKind(tags.get(f"{TAG}kind", ModelKind.REGRESSOR.value)),
        feature_view=FeatureViewRef(
            tags.get(f"{TAG}feature_view", ""),
            tags.get(f"{TAG}feature_view_version", ""),
            datetime.fromisoformat(watermark) if watermark else None,
        ),
        data_hash=tags.get(f"{TAG}data_hash", ""),
        tags=tags,
    )


def _registered(registered: Any, versions: Sequence[Any]) -> RegisteredModel:
    aliases = {alias: int(v) for alias, v in (registered.aliases or {}).items()}
    by_version: dict[int, list[str]] = {}
    for alias, v in aliases.items():
        by_version.setdefault(v, []).append(alias)
    infos = []
    for found in versions:
        info = _info(found)
        infos.append(replace(info, aliases=tuple(sorted(by_version.get(info.version, [])))))
    infos.sort(key=lambda i: i.version, reverse=True)
    return RegisteredModel(registered.name, tuple(infos), aliases)


@contextmanager
def _mlflow_errors(what: str) -> Iterator[None]:
    """MLflow's exceptions as domain errors: missing → NotFound, bad → InvalidArgument."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except QuantmeshError:
        raise
    except MlflowException as exc:
        code = exc.error_code
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(f"{what} does not exist", metadata={"detail": exc.message}) from None
        if code == "INVALID_PARAMETER_VALUE":
            raise InvalidArgument(f"{what}: {exc.message}") from None
        raise Unavailable(f"the model registry failed on {what}: {exc.message}") from None
