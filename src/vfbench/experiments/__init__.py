"""Experiments: everything that runs the whole pipeline (synth -> preprocess -> train ->
embed -> evaluate -> report) above the stage packages, which never do it themselves.

* :mod:`~vfbench.experiments.stages` - the stage runner (reuse when config and inputs
  are unchanged, resume when interrupted, verify a reused stage's outputs);
* :mod:`~vfbench.experiments.demo` - ``vfbench demo`` (``run_demo``);
* :mod:`~vfbench.experiments.ablation` - ``vfbench ablate GRID`` (rows of demo configs);
* :mod:`~vfbench.experiments.benchmark` - ``vfbench methods benchmark`` (rows of methods);
* :mod:`~vfbench.experiments.grid` - the shared schema of grids, rows and cells;
* :mod:`~vfbench.experiments.crossval` - ``vfbench crossval`` (identity-disjoint K-fold,
  pooled trials, one identity-level interval).

Kept light: importing this package imports none of its modules.
"""
