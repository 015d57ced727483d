"""Derivatives other than a params-dict model's gradient, checked by
reduction to the gradient check (issue 27).

:mod:`.scipy_conventions`: a target in scipy.optimize's conventions
(``fun``, ``jac``, ``x0``, optionally ``args``, ``hess``, ``hessp``); its
design note says what is done and what is next.
"""
