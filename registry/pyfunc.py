"""The bundle's MLflow pyfunc contract: which module loads it, its signature, its requirements.

The registry logs each bundle folder as an MLflow pyfunc model whose ``loader_module`` is
``serving.mlflow_model`` of the installed package: ``mlflow.pyfunc.load_model`` imports it and
calls its ``_load_pyfunc`` on the folder, so nothing from the artifact store is unpickled or run.
The module is named here as a string because it belongs to serving (it decides the way the service
does), a layer above the registry. The signature is derived from the request model
(``features.payload.CasePayload``): one row per case, its top-level fields as columns, nested
records and lists as MLflow ``Object``/``Array`` types and date-times as ISO-8601 strings (the
form JSON carries them in), so the MLflow UI shows the request's schema.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel

from features.payload import CasePayload
from models.record import VIEWS, fields

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, DataType, Schema

#: The module MLflow imports to load a registered bundle (``_load_pyfunc(path)``).
LOADER_MODULE = "serving.mlflow_model"
#: The model's input columns: the request model's top-level fields.
INPUT_COLUMNS: tuple[str, ...] = tuple(CasePayload.model_fields)
#: The model's output columns: the decision, then the reasons it shows (the record's mlflow view).
OUTPUT_COLUMNS: tuple[str, ...] = VIEWS["mlflow"]
_REQUIREMENTS = ("rollcure", "mlflow", "lightgbm", "numpy", "pandas", "pyarrow", "pydantic")


def _mlflow_type(annotation: Any) -> tuple[Any, bool]:
    """MLflow type of a pydantic annotation and whether a value is required (not nullable)."""
    from mlflow.types.schema import Array, DataType, Object, Property

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:  # ranges and validators (``features.payload.Amount``): the base type
        return _mlflow_type(args[0])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"payload schema: unsupported union {annotation}")
        return _mlflow_type(inner[0])[0], False
    if origin is typing.Literal:
        return DataType.string, True
    if origin is list:
        return Array(_mlflow_type(args[0])[0]), True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        props = []
        for name, info in annotation.model_fields.items():
            dtype, required = _mlflow_type(info.annotation)
            props.append(Property(name, dtype, required=required and info.is_required()))
        return Object(props), True
    scalar = {
        bool: DataType.boolean,
        int: DataType.long,
        float: DataType.double,
        str: DataType.string,
        dt.datetime: DataType.string,  # ISO 8601, as JSON carries it
    }
    if annotation in scalar:
        return scalar[annotation], True
    raise TypeError(f"payload schema: unsupported type {annotation}")


def input_schema() -> Schema:
    """The MLflow schema of the input frame, derived from the request model."""
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    specs: list[ColSpec | TensorSpec] = []
    for name, info in CasePayload.model_fields.items():
        dtype, required = _mlflow_type(info.annotation)
        specs.append(ColSpec(dtype, name, required=required and info.is_required()))
    return Schema(specs)


def output_schema() -> Schema:
    """The MLflow schema of the decision frame the loader module's model returns."""
    from mlflow.types.schema import Array, ColSpec, DataType, Schema

    types_: dict[object, DataType | Array] = {
        int: DataType.long,
        float: DataType.double,
        str: DataType.string,
        bool: DataType.boolean,
        dt.date: DataType.datetime,
        list[str]: Array(DataType.string),
    }
    return Schema([ColSpec(types_[f.type], f.name, required=False) for f in fields("mlflow")])


def signature() -> ModelSignature:
    """The model's MLflow signature: the payload frame in, the decision frame out."""
    from mlflow.models import ModelSignature

    return ModelSignature(inputs=input_schema(), outputs=output_schema())


def pip_requirements() -> list[str]:
    """The installed versions of what loading the model imports (passed explicitly: inferring
    them makes MLflow load the model in a subprocess, which took seconds per log)."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in _REQUIREMENTS]


def payload_frame(payloads: Sequence[BaseModel]) -> pd.DataFrame:
    """The input frame of some payloads: one row per case, their JSON values in the columns."""
    rows = [p.model_dump(mode="json") for p in payloads]
    return pd.DataFrame({c: [r.get(c) for r in rows] for c in INPUT_COLUMNS})
