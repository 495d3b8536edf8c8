"""Status sources: mount table, bounded-time filesystem probes, system and GPU samples.

Each source is cheap, never blocks on a hung mount, and imports no widgets.
"""
