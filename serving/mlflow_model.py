"""The bundle as an MLflow pyfunc model: one row per case in, one decision per case out.

The registry logs the bundle folder with ``loader_module="serving.mlflow_model"``, so
``mlflow.pyfunc.load_model("models:/<name>@champion")`` imports this module from the installed
package and calls :func:`_load_pyfunc` on the folder; nothing from the artifact store is
unpickled or executed (a pickled ``python_model`` would run whatever code the store holds). The
model decides the way ``POST /recommend`` does: each row is validated as the service's request
model, its features are built by the same ``features.payload`` -> ``build_features`` path, its
seed comes from its own inputs digest, and ``serving.pipeline`` lines the decision up. The input
and output columns, and the signature MLflow shows, are declared in ``registry.pyfunc``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from features.payload_rules import request_problems
from models.bundle import Bundle
from models.policy import DECISION_COLUMNS
from registry.pyfunc import INPUT_COLUMNS, OUTPUT_COLUMNS
from rollcure.core.errors import InputError
from serving.pipeline import decide_cases
from serving.request import ServedCase


def _plain(value: Any) -> Any:
    """JSON-like Python values of what MLflow's schema enforcement hands over (numpy scalars and
    arrays, NaN for a missing optional column) for the request model to validate."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def frame_payloads(frame: pd.DataFrame) -> list[ServedCase]:
    """Each row of an input frame validated as the service's request model (an input error names
    the row and the field otherwise)."""
    missing = [
        c for c in INPUT_COLUMNS if c not in frame.columns and ServedCase.model_fields[c].is_required()
    ]
    if missing:
        raise InputError(f"payload frame: missing column(s) {missing}; expected {list(INPUT_COLUMNS)}")
    columns = [c for c in INPUT_COLUMNS if c in frame.columns]
    cases = []
    for i, values in enumerate(zip(*(frame[c].tolist() for c in columns), strict=True)):
        try:
            cases.append(
                ServedCase.model_validate({c: _plain(v) for c, v in zip(columns, values, strict=True)})
            )
        except ValidationError as exc:
            raise InputError(
                f"payload frame row {i}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
            ) from exc
    for path, why in request_problems(cases):  # the rows together, as the service checks a request
        raise InputError(f"payload frame row {path}: {why}")
    return cases


class BundleModel:
    """What ``mlflow.pyfunc.load_model`` wraps: a loaded bundle deciding payload frames."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """One decision per input row (``OUTPUT_COLUMNS``), as ``POST /recommend`` decides it."""
        from serving.answers import case_seeds, features_for
        from serving.decision_log import inputs_digest

        payloads = frame_payloads(model_input)
        X = features_for(payloads, self.bundle.feature_config)
        digests = [inputs_digest(p.model_dump(mode="json")) for p in payloads]
        decisions = decide_cases(self.bundle, X, case_seeds(digests))
        reasons = decisions.reason_lists()
        out: dict[str, object] = {c: decisions[c] for c in DECISION_COLUMNS}
        out["reason_codes"] = [reasons.codes_of(i) for i in range(len(X))]
        out["reasons"] = [reasons.texts_of(i) for i in range(len(X))]
        return pd.DataFrame({c: out[c] for c in OUTPUT_COLUMNS})


def _load_pyfunc(path: str) -> BundleModel:
    """MLflow's entry point: ``path`` is the logged bundle folder (``data`` of the flavor)."""
    return BundleModel(Bundle.load(Path(path)))
