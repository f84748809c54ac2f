"""The base of every scenario table's model: frozen, no unknown keys, finite numbers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """A validated scenario table: frozen; an unknown key, inf or nan is an error."""

    # allow_inf_nan=False: every float field refuses inf and nan (TOML spells both), so a
    # bound such as gt=0 cannot be met by inf and no report ever prints $nan/h.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
