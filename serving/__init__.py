"""serving: the BentoML service, the durable decision log and batch scoring.

The service class lives in ``serving.service`` (imported by ``bentoml serve``, not here, so that
importing the package stays cheap); see docs/serving.md.
"""

from rollcure.config.serving import ServingConfig

__all__ = ["ServingConfig"]
