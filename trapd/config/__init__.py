"""Typed, validated configuration: one model per YAML section (Frigate's shape).

Every field has a description and bounds; unknown keys are errors; types are strict (``"5"`` is
not a number). Where each part lives:

* ``fields.py``: the base of every section and the value types they share (pins, sizes, paths);
* ``sections.py``: the sections that are not backends (deployment, pir, burst, event, ...);
* ``camera.py``: what every camera backend's section shares; each backend adds its own fields in its
  own file, and trapd/backends.py lists them;
* ``model.py``: :class:`~trapd.config.model.TrapdConfig`, the whole file;
* ``load.py``: reading YAML, with every problem as one line naming the file, line, key and value.
"""
