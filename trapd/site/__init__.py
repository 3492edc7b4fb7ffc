"""Site memory: what this camera's own scene looks like, so the filter stops keeping the same rock.

A camera trap stands still for months. The detections a generic model keeps on an empty scene are
mostly the same trunk or rock, at the same place, event after event. Two signals, each blind to
what the other misses:

* **scenery** (scenery.py): detections that recur at the same box and still look the same there
  are discounted, under guardrails (a high score always counts; unlabelled scenery needs repeated
  sightings spread over time);
* **change** (change.py): a frame that differs from the site's known-empty references in some
  region, beyond how much the empty scene itself varies, is kept whatever the detector says. This
  is what keeps the animal the detector misses.

The way of one frame: :class:`~trapd.site.filter.SiteFilter` looks at it when it is scored
(``look``), the decision uses the look (trapd/decide.py), and the event's looks are learned from
when it closes (``learn``). The memory is saved under the storage root (persist.py); `trapd learn`
teaches it from a person's labels (teach.py).
"""
