"""The TFLite runtime: LiteRT (`ai-edge-litert`) first, `tflite_runtime` as a fallback.

LiteRT is the maintained successor and works with numpy 2; `tflite_runtime` 2.14 (what older
Raspberry Pi OS images have) breaks under numpy 2, so it is only tried second.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


#: What the runtime's C++ side prints on every load (to the process's stderr, past Python's logging): not news.
_NATIVE_NOISE = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)


@contextmanager
def _native_stderr_into_log() -> Iterator[None]:
    """Catch what native code writes to file descriptor 2 meanwhile, drop the known banner, and log the rest
    (trapd's log has levels and timestamps; a bare "INFO:" line among them is noise, a real warning is not)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read(65536).decode(errors="replace").splitlines():
                if line.strip() and line.strip() not in _NATIVE_NOISE:
                    log.warning("TFLite runtime: %s", line.strip())


def load_interpreter(model_path: Path, num_threads: int) -> Any:
    """Build an interpreter once, with tensors allocated; any failure names the model file."""
    interpreter = interpreter_class()
    try:
        built = interpreter(model_path=str(model_path), num_threads=num_threads)
        with _native_stderr_into_log():  # the XNNPACK delegate announces itself here
            built.allocate_tensors()
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"model {model_path} cannot be loaded ({exc}); is the file complete? "
                         "check it with `trapd models verify`") from None
    return built
