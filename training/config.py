"""Training settings."""

from pydantic import BaseModel, ConfigDict


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
