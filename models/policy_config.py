"""Next-best-action policy settings (they travel inside the bundle)."""

from pydantic import BaseModel, ConfigDict


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
