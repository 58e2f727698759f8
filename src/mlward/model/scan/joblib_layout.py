"""joblib's in-stream array payloads: skip them exactly as ``joblib.load`` reads them.

``joblib.dump`` pickles a ``NumpyArrayWrapper`` per array and writes the raw array bytes
right after the wrapper's BUILD opcode (after an alignment padding byte and 0xff padding
since joblib 1.2), or a nested pickle stream for object arrays. The scanner must step over
the bytes to keep following the pickle, and must analyse the nested streams.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.pickle_values import DictValue, Instance

if TYPE_CHECKING:
    from mlward.model.scan.pickle_analyser import PickleAnalyser

_DTYPE_GLOBALS = frozenset({"numpy.dtype", "numpy.core.multiarray.dtype", "numpy._core.multiarray.dtype"})
_SIMPLE_CODE = re.compile(r"^[<>|=]?[a-zA-Z]\d{0,6}$")


def dtype_layout(dtype: Any, depth: int = 0) -> tuple[int, bool] | None:
    """(itemsize, has_object) of a modelled ``numpy.dtype(...)`` value, None if unknown."""
    if depth > 8 or not isinstance(dtype, Instance) or dtype.func_name() not in _DTYPE_GLOBALS:
        return None
    args = dtype.args
    if not isinstance(args, tuple) or not args or not isinstance(args[0], str):
        return None
    code = args[0]
    if not _SIMPLE_CODE.match(code):
        return None
    if code.lstrip("<>|=").startswith("O"):
        return 8, True
    import numpy as np  # lazily: most scans never meet a joblib array

    try:
        itemsize = int(np.dtype(code).itemsize)
    except (TypeError, ValueError):
        return None
    has_object = False
    state = dtype.state
    if isinstance(state, tuple) and len(state) >= 6:
        subarray, fields, elsize = state[2], state[4], state[5]
        if isinstance(elsize, int) and elsize > 0:
            itemsize = elsize
        if isinstance(subarray, tuple) and subarray:
            sub = dtype_layout(subarray[0], depth + 1)
            if sub is None:
                return None
            has_object |= sub[1]
        if isinstance(fields, DictValue):
            if fields.items is None:
                return None
            for spec in fields.items.values():
                sub = dtype_layout(spec[0] if isinstance(spec, tuple) and spec else None, depth + 1)
                if sub is None:
                    return None
                has_object |= sub[1]
    return itemsize, has_object


def skip_joblib_array(a: PickleAnalyser, wrapper: Instance) -> None:
    """After BUILD of a NumpyArrayWrapper: consume its payload the way joblib reads it."""
    from mlward.model.scan.pickle_analyser import LimitReached, Malformed, PickleAnalyser

    a.end_frame_for_raw_payload()
    state = wrapper.state
    items = state.items if isinstance(state, DictValue) else None
    shape = items.get("shape") if items else None
    layout = dtype_layout(items.get("dtype")) if items else None
    if (
        layout is None
        or not isinstance(shape, tuple)
        or not all(isinstance(d, int) and d >= 0 for d in shape)
    ):
        a.report(
            rules.PICKLE_JOBLIB_LAYOUT,
            Severity.HIGH,
            "joblib array wrapper whose shape or dtype cannot be determined; the rest of the "
            "stream cannot be located",
            key="joblib-unknown",
            opcode="BUILD",
        )
        raise LimitReached("joblib array payload of unknown size")
    itemsize, has_object = layout
    if has_object:
        nested = PickleAnalyser(a.bs, a.ctx, a.member, label="joblib object-array pickle")
        outcome = nested.run()
        a.calls += outcome.calls
        if not outcome.complete:
            raise Malformed("joblib object-array pickle is broken")
        return
    alignment = items.get("numpy_array_alignment_bytes") if items else None
    if isinstance(alignment, int) and alignment > 0:
        pad = a.read(1)[0]
        padding = a.read(pad) if pad else b""
        if not 0 < pad <= alignment or padding.strip(b"\xff"):
            a.report(
                rules.PICKLE_JOBLIB_LAYOUT,
                Severity.MEDIUM,
                f"joblib array padding is not what joblib writes (length {pad})",
                key="joblib-padding",
                opcode="BUILD",
            )
    elif alignment is not None:
        raise Malformed("invalid joblib alignment")
    a.skip(math.prod(shape) * itemsize)
