"""FastVLM behind one backend-agnostic interface.

from perception import load_vlm
vlm = load_vlm("path/to/FastVLM-0.5B")            # a local folder; nothing is downloaded
gen = vlm.generate(screenshot, "Where is the Save button?")
gen.text, gen.timings.ttft_s
"""

from perception.base import Generation, Timings, VisionLanguageModel, load_vlm, select_backend
from perception.errors import BackendUnavailable, CheckpointError, PerceptionError

__all__ = [
    "BackendUnavailable",
    "CheckpointError",
    "Generation",
    "PerceptionError",
    "Timings",
    "VisionLanguageModel",
    "load_vlm",
    "select_backend",
]
