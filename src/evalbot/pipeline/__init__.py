"""Orchestration: read inputs, run both sides, score, test, report (``diff``), per suite
(``suite``, ``evaluate``, ``analyze``), shard merging (``merge``) and judge calibration.

Import from the modules (``evalbot.pipeline.diff``, ``evalbot.pipeline.merge``, …).
"""
