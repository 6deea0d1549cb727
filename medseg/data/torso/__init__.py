"""Visceral-like torsos from two real CT scans with TotalSegmentator labels: ``medseg synth --kind torso``."""

from .fetch import TorsoDataError, fetch_scans
from .generate import Source, body_mask, make_subject, prepare

__all__ = ["Source", "TorsoDataError", "body_mask", "fetch_scans", "make_subject", "prepare"]
