"""The review widget: :class:`Review` (work through a queue) and :class:`TraceView` (browse).

The Python side builds one item's payload at a time (:mod:`tracemark.review.payload`) and
answers the front end's commands (:mod:`tracemark.review.widget`); the front end is built
from ``widget_js/`` into ``static/``.
"""

from tracemark.review.widget import Review, TraceView

__all__ = ["Review", "TraceView"]
