"""Everything read from the repository before any model call: the config and model files, golden
sets, prompt templates, the git trees of both sides, suite detection and ``evalbot validate``.

Import from the modules (``evalbot.inputs.config``, ``evalbot.inputs.golden``, …).
"""
