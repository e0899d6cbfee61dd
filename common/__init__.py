"""Foundations every layer imports: user-facing errors, config key definitions and metric names.

Nothing here imports ``transforms``, ``sinks`` or ``pipelines``.
"""
