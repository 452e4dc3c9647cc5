"""tracemark: Jupyter-native human review of LLM application traces."""
from tracemark.model import Traces, read

__all__ = ["Traces", "read"]
__version__ = "0.1.0"
