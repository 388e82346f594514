"""The `sanshe` command line: one click group, one module per area.

Every command is one unit of work: it opens one transaction, and errors print as one
clear line with a non-zero exit code.
"""
from .app import main  # noqa: F401
from . import core, workers_cmd, mining_cmd, admin_cmd, budgets_cmd  # noqa: F401,E402  (register commands)
from webui import cli as _webui_cli  # noqa
from . import agreements_cmd  # noqa: F401,E402  (register the agreement commands)
