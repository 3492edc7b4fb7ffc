"""The TFLite runtime: LiteRT (`ai-edge-litert`) first, `tflite_runtime` as a fallback.

LiteRT is the maintained successor and works with numpy 2; `tflite_runtime` 2.14 (what older
Raspberry Pi OS images have) breaks under numpy 2, so it is only tried second.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from trapd.errors import ModelError

log = logging.getLogger(__name__)


def interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        pass
    else:
        return Interpreter
    try:
        from tflite_runtime.interpreter import Interpreter
    except Exception as exc:
        raise ModelError(
            f"no TFLite runtime can be imported ({type(exc).__name__}: {exc}); "
            "run `pip install ai-edge-litert` in trapd's venv"
        ) from None
    log.info("using tflite_runtime (ai-edge-litert is not installed)")
    return Interpreter


def load_interpreter(model_path: Path, num_threads: int) -> Any:
    """Build an interpreter once, with tensors allocated; any failure names the model file."""
    interpreter = interpreter_class()
    try:
        built = interpreter(model_path=str(model_path), num_threads=num_threads)
        built.allocate_tensors()
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"model {model_path} cannot be loaded ({exc}); is the file complete? "
                         "check it with `trapd models verify`") from None
    return built
