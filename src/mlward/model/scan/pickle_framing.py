"""FRAME bookkeeping of the pickle analyser (mixed into ``PickleAnalyser``).

CPython reads frames three ways: C ``pickle.loads`` only prefetches a frame, C
``pickle.load(file)`` drops the rest of a frame buffer when an opcode overruns it and reads
on from the file, and ``pickle._Unpickler`` raises. The analyser follows the first and
reports every place where the three can differ as HIGH.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlward.core.findings import Severity
from mlward.model.scan import rules

if TYPE_CHECKING:
    from mlward.model.scan._io import ByteStream


class FrameChecks:
    """Frame checks; expects the attributes ``PickleAnalyser`` defines."""

    bs: ByteStream
    label: str
    op_at: int
    frame_end: int

    def report(
        self,
        rule_id: str,
        severity: Severity,
        message: str,
        *,
        key: str,
        offset: int | None = None,
        opcode: str | None = None,
        **props: Any,
    ) -> None:
        raise NotImplementedError  # provided by PickleAnalyser

    def _buffer_end(self) -> int:
        """End of the buffer for the inline opcodes: clamped to the current frame's end,
        so that an opcode crossing it takes the general path, which checks framing."""
        end = len(self.bs.buf)
        if self.frame_end >= 0:
            end = min(end, max(self.frame_end - self.bs.base, self.bs.pos))
        return end

    def start_frame(self, length: int) -> None:
        """FRAME: C's ``_pickle`` only prefetches ``length`` bytes, ``pickle._Unpickler``
        enforces the frame; where the two readings can differ, report it (HIGH)."""
        here = self.bs.tell()
        if self.op_at < self.frame_end < here:
            self.report_framing("FRAME opcode straddles the end of the previous frame")
        elif here < self.frame_end:
            self.report_framing(
                f"FRAME starts {self.frame_end - here} bytes before the end of the current frame"
            )
        if here + length > self.bs.size:
            self.report_framing(f"FRAME declares {length} bytes but {self.bs.size - here} follow")
        self.frame_end = here + length if length else -1

    def end_frame_for_raw_payload(self) -> None:
        """joblib reads array bytes from the file around the framer (it commits the frame
        before writing them), so a frame must end exactly where the payload starts."""
        here = self.bs.tell()
        if self.frame_end >= 0 and here != self.frame_end:
            self.report_framing("joblib array bytes start inside a FRAME, or after its end")
        self.frame_end = -1

    def report_framing(self, why: str) -> None:
        """One HIGH finding per stream for inconsistent framing (later ones are counted)."""
        self.report(
            rules.PICKLE_FRAMING,
            Severity.HIGH,
            f"{self.label} has inconsistent framing ({why}): CPython's C unpickler and "
            "pickle._Unpickler, file and bytes readers, may run different opcodes",
            key="framing",
        )
