"""Model and policy settings (these travel inside the bundle)."""

from pydantic import BaseModel, ConfigDict


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
