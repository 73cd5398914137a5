"""Recordings handed over without a terminal: the watched inbox and staff browser uploads."""
