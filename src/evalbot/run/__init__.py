"""The run stage: model calls for both sides through one cached, bounded, de-duplicated runner.

Import from the modules (``evalbot.run.runner``, ``evalbot.run.cache``). This file stays empty on
purpose: ``python -m evalbot.run.pyworker`` imports it in every worker process, which must start
without loading the SDK, numpy or pydantic.
"""
