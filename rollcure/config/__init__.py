"""The one typed configuration object, loaded at the entry point and passed down.

Each stage owns its section (declared in its own package); this module only composes them and
loads YAML. Unknown keys are rejected, so a typo in a config file fails loudly instead of being
silently ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rollcure.config.engine import EngineConfig
from rollcure.config.features import FeatureConfig
from rollcure.config.model import ModelConfig
from rollcure.config.monitoring import MonitoringConfig
from rollcure.config.policy import PolicyConfig
from rollcure.config.serving import ServingConfig
from rollcure.config.simulation import SimulationConfig
from rollcure.config.training import TrainingConfig
from rollcure.core.errors import InputError
from rollcure.core.value import ValueConfig

DATA_DIR_ENV = "ROLLCURE_DATA_DIR"
DEFAULT_DATA_DIR = "rollcure_data"


class RollcureConfig(BaseModel):
    """Everything a run needs; sections mirror the top-level packages."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR)))
    seed: int = Field(default=7, ge=0)
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    #: the value definition every stage uses (rollcure.core.value)
    value: ValueConfig = Field(default_factory=ValueConfig)


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One line per broken field: dotted path, then pydantic's message."""
    parts = []
    for e in err.errors():
        path = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        parts.append(f"{path or '<root>'}: {e['msg']}")
    return "; ".join(parts)


def load_config(path: Path | None = None, **overrides: object) -> RollcureConfig:
    """Read a YAML config (or the defaults) and apply dotted-free top-level overrides."""
    raw: dict = {}
    if path is not None:
        if not Path(path).is_file():
            raise InputError(f"--config: file not found: {path}")
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"--config: not valid YAML ({exc.__class__.__name__})") from exc
        if not isinstance(raw, dict):
            raise InputError("--config: top level must be a mapping")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RollcureConfig.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"config: {format_validation_error(exc)}") from exc
