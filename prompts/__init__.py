"""evalbot's judge prompts, installed as ``evalbot.prompts`` (pyproject.toml maps this folder).

Each ``*.md`` starts with a ``version:`` line; ``evalbot.score.judge_io`` loads them with
``importlib.resources``. This file makes the folder a regular package, which the editable
install needs to map it.
"""
