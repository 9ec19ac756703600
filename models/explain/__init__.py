"""Explanations: exact TreeSHAP contributions (``treeshap``) and the reasons made from them (``reasons``)."""

from models.explain.reasons import REASON_COLUMNS, shap_contributions, top_reasons
from models.explain.treeshap import TreeShap, explainer_from_dump, tree_shap

__all__ = [
    "REASON_COLUMNS",
    "TreeShap",
    "explainer_from_dump",
    "shap_contributions",
    "top_reasons",
    "tree_shap",
]
