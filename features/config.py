"""Feature pipeline settings."""

from pydantic import BaseModel, ConfigDict


class FeatureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
