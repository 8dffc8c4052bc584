"""``vfbench demo`` and ``vfbench ablate``: the whole benchmark end to end (issue 8).

    >>> from vfbench.demo import load_demo_config, run_demo
    >>> res = run_demo("runs/demo", load_demo_config())      # doctest: +SKIP
    >>> res.summary["headline"][0]["value"]                   # doctest: +SKIP

Stages (synth -> preprocess -> train -> embed -> evaluate -> report) are run by
:class:`~vfbench.demo.pipeline.StageRunner`, which reuses a stage when its config and
inputs are unchanged. See ``docs/demo.md``.
"""

from vfbench.demo.config import DemoConfig, load_demo_config
from vfbench.demo.run import DemoResult, run_demo

__all__ = ["DemoConfig", "DemoResult", "load_demo_config", "run_demo"]
