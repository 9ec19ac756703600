"""Training settings: the time split, MLflow location and names, report sampling."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrainingConfig(BaseModel):
    """How cases are split in time and where runs and bundles are recorded."""

    model_config = ConfigDict(extra="forbid")

    #: Latest case cycles held out as the out-of-time test (shrunk to 1 on short panels).
    oot_cycles: int = Field(default=2, ge=1)
    #: Cycles just before the OOT period used for early stopping and the calibrator choice.
    valid_cycles: int = Field(default=1, ge=1)
    #: Training cycles kept before the OOT part may grow past one cycle (short panels: one OOT cycle).
    min_train_cycles: int = Field(default=3, ge=1)
    #: Keep only the most recent N training cycles (None: all), to bound training time.
    max_train_cycles: int | None = Field(default=None, ge=1)
    #: MLflow tracking URI; None means a SQLite store under ``<data_dir>/mlflow``.
    #: The ``MLFLOW_TRACKING_URI`` environment variable overrides both.
    tracking_uri: str | None = None
    experiment: str = "rollcure"
    registered_model: str = "rollcure-bundle"
    #: Off-policy estimates run on the latest cycles whose whole value horizon is observed (the
    #: held-out cycles' horizons are not): this many of them.
    ope_cycles: int = Field(default=12, ge=1)
    #: Those cycles are inside the action models' training period, so by default their doubly
    #: robust estimates use models cross-fitted by loan: each case is decided and valued by models
    #: fitted without its loan (this many folds; 1: the bundle's own models, fitted on every
    #: loan). In-sample, a policy that picks each case's highest modelled value also picks the
    #: model's largest errors, and the estimate of its value inherits them (docs/value.md).
    ope_folds: int = Field(default=2, ge=1, le=10)
    #: The action-response models and the recovery factors of their value labels are fitted in
    #: one process on at most this many loans, a sample by a hash of the loan id that both
    #: engines draw alike (``engine.loan_sample``); a book with fewer loans uses every loan.
    policy_max_loans: int = Field(default=250_000, ge=1000)
    #: Cases sampled (per population) for SHAP plots and PSI in the validation report.
    report_sample: int = Field(default=2000, ge=100)
