"""Realistic brains from real T1 templates and the MALC (Neuromorphometrics) atlas: ``medseg synth --kind brain``."""

from .fetch import BrainDataError, data_root, fetch_templates
from .generate import Source, make_subject, prepare

__all__ = ["BrainDataError", "Source", "data_root", "fetch_templates", "make_subject", "prepare"]
