"""Detectors: the interface (base.py), the TFLite runtime and models (runtime.py, cards.py, models.py,
install.py, tflite.py, decoders.py), the tiling detector (detector.py), the fail-open stand-in
(passthrough.py), and the one function that builds the configured detector (build.py)."""
