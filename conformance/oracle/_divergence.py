"""Canonical Kullback-Leibler divergence in exact arithmetic."""

from __future__ import annotations

import numpy as np

from conformance.case import Case
from conformance.dtypes import DType
from conformance.oracle._classification import _reduce_elementwise
from conformance.oracle._mp import NAN, ZERO, exp, is_nan, log, log_q, mp_array


def kl_divergence(case: Case, dtype: DType) -> np.ndarray | object:
    r"""KL(target || input) in nats: pointwise :math:`t (\log t - \log q)`.

    ``reduction: none`` returns the pointwise terms (input's shape); ``sum``
    adds them, ``mean`` divides the sum by the number of elements and
    ``batchmean`` by the size of the first axis. A zero target term is 0 even
    where ``q`` is 0.
    """
    logq = np.moveaxis(log_q(np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1),
                             case.input.kind), -1, case.axis)
    raw = mp_array(case.target.values, dtype)
    if case.target.kind == "log_probs":
        log_t, t = raw, np.vectorize(exp, otypes=[object])(raw)
    else:
        log_t, t = np.vectorize(log, otypes=[object])(raw), raw
    terms = np.empty(raw.shape, dtype=object)
    for index in np.ndindex(raw.shape):
        terms[index] = _term(t[index], log_t[index], logq[index])
    return _reduce_elementwise(terms, case.reduction)


def _term(t: object, log_t: object, log_q_value: object) -> object:
    if is_nan(t) or is_nan(log_q_value):
        return NAN
    if t == 0:
        return ZERO
    return t * (log_t - log_q_value)
