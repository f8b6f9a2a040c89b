"""kornia bindings of the overlap families; filled in by the overlap families' work (issue 14).

This module imports neither kornia nor torch: recipes do.
"""

from __future__ import annotations

from conformance.binding import Binding

BINDINGS: tuple[Binding, ...] = ()
