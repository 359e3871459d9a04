"""MiniWoB++ web tasks (Farama's ``miniwob``) behind the SDK's env contract.

``envs.miniwob.tasks`` (the supported tasks and their oracles) and ``envs.miniwob.page`` (the DOM
as plain data) import without selenium; ``envs.miniwob.env.MiniWoBEnv`` starts Chromium through
``envs.miniwob.browser`` on its first ``reset()``, which needs the ``miniwob`` extra and
Chromium + chromedriver.
"""
