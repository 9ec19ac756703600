"""Serving settings."""

from pydantic import BaseModel, ConfigDict


class ServingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
