"""trapd: a field-grade, AI-filtering camera-trap controller for the Raspberry Pi."""

__version__ = "0.1.0"
