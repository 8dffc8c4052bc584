"""Old import path of the demo: it lives in :mod:`vfbench.experiments` now
(``vfbench.experiments.demo.run_demo``, ``vfbench.experiments.config.load_demo_config``)."""

from vfbench.experiments.config import DemoConfig, load_demo_config
from vfbench.experiments.demo import DemoResult, run_demo

__all__ = ["DemoConfig", "DemoResult", "load_demo_config", "run_demo"]
