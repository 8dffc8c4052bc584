"""Evaluation: trials, metrics, test confidence and results. Takes embeddings, never models.

Modules: ``embeddings`` (input format), ``trials`` (seeded sampling, trial files),
``importers`` (published SSNet / CMPC lists), ``scoring`` (cosine / dot / L2 / callable),
``metrics`` (matching, verification, retrieval), ``confidence`` (binomial, Wilson, identity
bootstrap, t, McNemar, paired bootstrap), ``protocol`` (validated config), ``results``
(typed results, JSON), ``api`` (:func:`~vfbench.evaluate.api.evaluate`), ``quick``
(:func:`~vfbench.evaluate.quick.validation_1to2` for training loops). Nothing here imports
``vfbench.models`` or ``vfbench.train``; rendering lives in :mod:`vfbench.report`.
"""
