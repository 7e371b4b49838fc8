"""Declarations and pandera models of every typed table (core lake, warehouse marts)."""
