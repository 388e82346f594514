"""Imports every table module so that ``Base.metadata`` knows the whole schema."""
from . import mining_models  # noqa: F401
from . import models  # noqa: F401
from . import rules_models  # noqa: F401
