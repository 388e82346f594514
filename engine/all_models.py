"""Imports every table module so that ``Base.metadata`` knows the whole schema."""
from engine.core import models  # noqa: F401
from engine.method import models as method_models  # noqa: F401
from engine.mining import models as mining_models  # noqa: F401
from engine.core import heartbeats  # noqa: F401,E402
from engine.core import migration_runs  # noqa: F401,E402
