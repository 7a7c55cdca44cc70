"""Shared contract tests: the checks every connector passes against its sandbox."""

from .suite import FAULT_KINDS, ConnectorContractTests

__all__ = ["ConnectorContractTests", "FAULT_KINDS"]
