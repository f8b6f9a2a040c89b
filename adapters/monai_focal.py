"""monai bindings of the focal families; filled in by the focal families' work (issue 14).

This module imports neither monai nor torch: recipes do.
"""

from __future__ import annotations

from conformance.binding import Binding

BINDINGS: tuple[Binding, ...] = ()
