"""Point-in-time features and labels: the one code path from raw tables to model inputs."""

from features.build import build_features
from features.cases import overdue_cases
from features.dataset import Dataset, build_dataset
from features.labels import build_labels
from features.payload import CasePayload, payloads_to_tables
from features.payload_from_tables import payloads_from_tables
from features.registry import FEATURE_NAMES, FEATURES, Feature
from features.schemas import TableValidationError, validate_tables
from rollcure.config.features import FeatureConfig

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "CasePayload",
    "Dataset",
    "Feature",
    "FeatureConfig",
    "TableValidationError",
    "build_dataset",
    "build_features",
    "build_labels",
    "overdue_cases",
    "payloads_from_tables",
    "payloads_to_tables",
    "validate_tables",
]
