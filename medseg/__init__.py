"""medseg: medical image segmentation with squeeze-and-excitation style attention."""

__version__ = "0.1.0"
