"""GitHub edges: the Action entrypoint, its settings, the event, the REST client and publishing.

Nothing below this package imports it: the pipeline produces records, this package posts them.
Import from the modules (``evalbot.github.action``, ``evalbot.github.publish``, …).
"""
