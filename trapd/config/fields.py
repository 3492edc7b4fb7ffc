"""The base of every config section, and the value types sections share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PinName = Annotated[
    int | str,
    Field(description="BCM GPIO number (17) or any gpiozero pin name ('GPIO17', 'BOARD11')"),
]
Pixels = Annotated[int, Field(ge=16, le=16384, strict=True)]
# YAML gives lists; accept them for the two-element sizes (strict mode would demand tuples).
Resolution = Annotated[tuple[Pixels, Pixels], Field(strict=False)]
PathSetting = Annotated[Path, Field(strict=False)]
TileCount = Annotated[int, Field(ge=1, le=8, strict=True)]
TileGrid = Annotated[tuple[TileCount, TileCount], Field(strict=False)]


class Section(BaseModel):
    """A YAML section: unknown keys are errors, values are never coerced ("5" is not 5), and it cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
