"""The verdict core: how one value is measured and judged.

probes (what is differentiated along) -> noise (the rounding a difference
must allow for, both sides) -> numeric (stencils, retries across kinks, the
second stencil, the Taylor test's steps) -> taylor (the Taylor test read
from loss values) -> grading (one decision per value, a block's grade, the
verdict). docs/verdicts.md says the same in words.
"""
