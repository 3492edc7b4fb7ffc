"""`trapd report`: a static HTML report of a storage, for any browser, offline.

Read top to bottom: ``summary.py`` turns each sidecar into what the pages show of it,
``cache.py`` remembers that per sidecar so a second run reads only new events, ``thumbs.py``
makes the contact sheet's thumbnails, ``effort.py`` and ``charts.py`` count and draw the sampling
effort and activity, ``overview.py`` gathers the deployment's facts, and ``build.py`` writes the
pages (Jinja2 templates in ``templates/``; the browser side in ``static/``).
"""
