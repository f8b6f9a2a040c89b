"""The domain's vocabulary: the small closed sets of words every module shares.

A leaf module: it imports nothing of the package, so anything may import it.
The members are :class:`enum.StrEnum`, so they compare equal to the words a
case file or a results file holds and are written as those words.

Loss families are not an enum: they are an open set, registered by
:mod:`conformance.families` (and by plugins).
"""

from __future__ import annotations

from enum import StrEnum


class Reduction(StrEnum):
    """How the per-position losses become the returned value."""

    MEAN = "mean"
    SUM = "sum"
    NONE = "none"
    BATCHMEAN = "batchmean"   # the sum divided by the size of the first axis (KL divergence)
    # each sequence's loss divided by its label length (at least 1), then the batch mean (CTC;
    # PyTorch's 'mean')
    LENGTH_MEAN = "length_mean"


class Mode(StrEnum):
    """``faithful``: the glue converts the case's input to what the API takes;
    ``as_is``: the input goes in as written, to show how the API reads it."""

    FAITHFUL = "faithful"
    AS_IS = "as_is"


class Status(StrEnum):
    """The judgement of a value or a gradient (see :mod:`conformance.compare`)."""

    PASS = "pass"
    KNOWN = "known"
    DIFFERENCE = "difference"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class Quantity(StrEnum):
    """What a judgement is about: the loss's value or its gradient."""

    VALUE = "value"
    GRAD = "grad"


class Elements(StrEnum):
    """What an input or target array holds."""

    FLOAT = "float"     # real numbers (inf and nan allowed)
    INDEX = "index"     # class indices (integers)
    SEQUENCES = "sequences"  # ragged label sequences, one per batch element (CTC), padded with -1


class Category(StrEnum):
    """Why an API deviates, as an ``expect`` entry classifies it."""

    SEMANTIC = "semantic"
    CLIPPING = "clipping"
    PRECISION = "precision"
    BUG = "bug"


FAILING = frozenset({Status.FAIL, Status.ERROR})
