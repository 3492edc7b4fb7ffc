"""The base of every config section, and the value types sections share.

Values that reach file names, EXIF or Camtrap DP ids are checked for the characters those can
hold, and a refusal names the rule: a config is input, and a NUL or a slash in a camera id would
otherwise end up in a folder name or a JPEG.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EXIF_TEXT = re.compile(r"^[\x20-\x7e]{1,64}$")
_PIN_NAME = re.compile(r"^(GPIO|BCM|BOARD|WPI)\d{1,2}$|^J8:\d{1,2}$", re.IGNORECASE)
#: BCM numbers a Pi's GPIO header and the Pi 5's RP1 can name.
MAX_BCM_PIN = 53


def _plain_id(value: str) -> str:
    if not _PLAIN_ID.match(value):
        raise ValueError("use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
                         "(it names folders, EXIF and Camtrap DP ids)")
    return value


def _exif_text(value: str) -> str:
    if not _EXIF_TEXT.match(value):
        raise ValueError("use 1 to 64 printable ASCII characters (EXIF text holds no others)")
    return value


def _pin(value: int | str) -> int | str:
    if isinstance(value, int) and not 0 <= value <= MAX_BCM_PIN:
        raise ValueError(f"a BCM GPIO number is 0 to {MAX_BCM_PIN}, e.g. 17")
    if isinstance(value, str) and not _PIN_NAME.match(value):
        raise ValueError("use a BCM number such as 17, or a pin name such as GPIO17 or BOARD11")
    return value


def _path_text(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("an empty path would be the folder trapd happens to start in; give the folder")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("a path cannot hold a NUL character")
    return value


PlainId = Annotated[str, AfterValidator(_plain_id)]
ExifText = Annotated[str, AfterValidator(_exif_text)]
PinName = Annotated[
    int | str,
    AfterValidator(_pin),
    Field(description="BCM GPIO number (17) or any gpiozero pin name ('GPIO17', 'BOARD11')"),
]
Pixels = Annotated[int, Field(ge=16, le=16384, strict=True)]
# YAML gives lists; accept them for the two-element sizes (strict mode would demand tuples).
Resolution = Annotated[tuple[Pixels, Pixels], Field(strict=False)]
PathSetting = Annotated[Path, BeforeValidator(_path_text), Field(strict=False)]
TileCount = Annotated[int, Field(ge=1, le=8, strict=True)]
TileGrid = Annotated[tuple[TileCount, TileCount], Field(strict=False)]


class Section(BaseModel):
    """A YAML section: unknown keys are errors, values are never coerced ("5" is not 5), and it cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
