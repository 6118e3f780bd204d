"""Sluice: AWS's S3 -> Lambda -> DLQ pipeline on one machine."""

__version__ = "0.1.0"
