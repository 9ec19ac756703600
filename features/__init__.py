"""Point-in-time features and labels: the one code path from raw tables to model inputs.

Besides `build_features`, the building blocks of its event windows (`CycleBook`, `EventIndex`,
`cycle_window`, `window_count`, `to_seconds`, `safe_ratio`) are public so benchmarks and SQL
cross-checks can compute a few features with the pipeline's own code instead of reaching into
private modules.
"""

from features._events import DAY_S, EventIndex, to_seconds, window_count
from features._repayment import CycleBook, cycle_window, safe_ratio
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
    "DAY_S",
    "FEATURES",
    "FEATURE_NAMES",
    "CasePayload",
    "CycleBook",
    "Dataset",
    "EventIndex",
    "Feature",
    "FeatureConfig",
    "TableValidationError",
    "build_dataset",
    "build_features",
    "build_labels",
    "cycle_window",
    "overdue_cases",
    "payloads_from_tables",
    "payloads_to_tables",
    "safe_ratio",
    "to_seconds",
    "validate_tables",
    "window_count",
]
