"""Simulation settings (owned by the simulator)."""

from pydantic import BaseModel, ConfigDict


class SimulationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
