"""The base of every scenario table's model: frozen, no unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """A validated scenario table: frozen, and an unknown key is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")
