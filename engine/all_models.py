"""Imports every table module so that ``Base.metadata`` knows the whole schema."""
from . import models  # noqa: F401
