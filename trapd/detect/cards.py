"""Model cards: how to feed a model, how to read its outputs, what its labels mean.

A card is a small YAML file. trapd ships cards for the models in ``../shared/models``
(``trapd/detect/cards/``); a user who trains or distils their own camera-trap model writes one
beside it (``<name>.card.yaml``) and trapd uses it with no code change.

Example (the shipped SSD MobileNet v1 card, abridged)::

    name: ssd-mobilenet-v1-coco
    file: ssd_mobilenet_v1_coco_quant_detect.tflite
    kind: detector
    format: ssd_postprocess
    input: {width: 300, height: 300, dtype: uint8}
    labels: ssd_mobilenet_v1_coco_quant_labels.txt
    label_offset: 1             # label = labels[class_id + 1]
    categories:                 # onto MegaDetector's categories; other labels are ignored
      animal: [bird, cat, dog, horse, sheep, cow, elephant, bear, zebra, giraffe]
      person: [person]
      vehicle: [bicycle, car, motorcycle, airplane, bus, train, truck, boat]
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from trapd.config.yaml_reader import MAX_CONFIG_BYTES, read_yaml
from trapd.detect.base import CATEGORIES, Category
from trapd.errors import ConfigError

OutputFormat = Literal["ssd_postprocess", "yolov8", "classifier"]

#: A file beside the card: no folder, no "..", nothing hidden. A card is input: one that names
#: ``../../etc/x`` must not make `trapd models install` write there, or the detector read from there.
_PLAIN_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def _plain_file(name: str) -> str:
    if not _PLAIN_FILE.match(name) or ".." in name:
        raise ValueError(f"{name[:80]!r} is not a plain file name: it must sit beside the card, with no folder in it")
    return name


PlainFile = Annotated[str, AfterValidator(_plain_file)]

#: Where the cards for the shared models live, inside the package.
BUILTIN_CARDS_DIR = Path(__file__).with_name("cards")
CARD_SUFFIX = ".card.yaml"


class _CardSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_CardSection):
    width: int = Field(ge=8, le=4096, description="Input width in pixels.")
    height: int = Field(ge=8, le=4096, description="Input height in pixels.")
    dtype: Literal["uint8", "float32"] = Field(description="Input tensor type.")
    scale: float = Field(1.0, description="Float inputs get rgb * scale + offset (e.g. 1/127.5 and -1).")
    offset: float = Field(0.0, description="See scale.")


class SsdOutputNames(_CardSection):
    """Names of the four post-process tensors. Exporters order them differently, so never trust position."""

    boxes: str
    classes: str
    scores: str
    count: str


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Download(_CardSection):
    """Where `trapd models fetch NAME` gets the model: a URL and the sha256 of the file at that URL (checked
    before anything is installed), and, for an archive (.zip, .tar.gz), the names of the model and its labels
    inside it."""

    url: str = Field(pattern=r"^https?://[^\s]{1,2000}$", description="The file to download.")
    sha256: Sha256 = Field(description="sha256 of the file at the URL, as its publisher gives it.")
    model_member: PlainFile | None = Field(None, description="The model's name inside the archive.")
    labels_member: PlainFile | None = Field(None, description="The labels file's name inside the archive.")


class ModelCard(_CardSection):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="What config and commands call it.")
    version: str = Field("", description="Version of the weights, recorded as Camtrap DP classifiedBy.")
    file: PlainFile = Field(description="Model file name, beside the card (no folders in it).")
    kind: Literal["detector", "classifier"]
    format: OutputFormat
    input: InputSpec
    outputs: SsdOutputNames | None = Field(None, description="ssd_postprocess only: tensor names.")
    labels: PlainFile = Field(description="Labels file name, one label per line, beside the model.")
    label_offset: int = Field(0, ge=-1, le=10, description="label = labels[class_index + label_offset].")
    categories: dict[Category, list[str]] = Field(
        default_factory=dict, description="Detector labels that count as each MegaDetector category."
    )
    category_indices: dict[Category, list[tuple[int, int]]] = Field(
        default_factory=dict, description="Classifier output indices (inclusive ranges) for each category."
    )
    thresholds: dict[Category, float] = Field(default_factory=dict, description="Suggested score thresholds.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="Expected sha256 of the file.")
    labels_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                      description="Expected sha256 of the labels file: a wrong one maps classes "
                                      "to the wrong names, and an empty one discards every animal.")
    licence: str = ""
    source: str = ""
    download: Download | None = Field(None, description="Where `trapd models fetch` gets it; none: install a file.")

    @model_validator(mode="after")
    def _consistent(self) -> ModelCard:
        if self.kind == "classifier" and self.format != "classifier":
            raise ValueError("a classifier card needs format: classifier")
        if self.kind == "detector" and self.format == "classifier":
            raise ValueError("a detector card needs format ssd_postprocess or yolov8")
        if self.kind == "detector" and not self.categories:
            raise ValueError("a detector card must map labels onto categories (animal, person, vehicle)")
        if self.kind == "classifier" and not self.category_indices:
            raise ValueError("a classifier card needs category_indices (e.g. animal: [[1, 398]])")
        unknown = set(self.thresholds) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"thresholds for unknown categories: {sorted(unknown)}")
        return self

    def category_of_label(self) -> dict[str, Category]:
        return {label: category for category, labels in self.categories.items() for label in labels}


def load_card(path: Path) -> ModelCard:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"model card {path} is larger than a model card can be; is this the right file?")
        _, data = read_yaml(path.read_text(encoding="utf-8"), f"model card {path}", what="model card")
        return ModelCard.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"model card {path} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"model card {path} is not UTF-8 text; save it as UTF-8") from None
    except ValidationError as exc:
        problems = [
            f"model card {path}: {'.'.join(str(p) for p in error['loc']) or '(top level)'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False)
        ]
        raise ConfigError(problems) from None


def builtin_cards() -> dict[str, ModelCard]:
    return {card.name: card for card in _shipped_cards()}


@functools.cache
def _shipped_cards() -> tuple[ModelCard, ...]:
    """The cards shipped in the package, parsed and validated once (model lookups ask often)."""
    return tuple(map(load_card, sorted(BUILTIN_CARDS_DIR.glob("*.yaml"))))
