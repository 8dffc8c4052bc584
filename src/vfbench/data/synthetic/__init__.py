"""The embedded synthetic voice-face corpus with a known ceiling (``vfbench synth``).

Voices and faces are linked through shared hidden traits (gender expression, age, body
size, ancestry group) with noise, plus private per-modality traits and per-item
nuisance, so cross-modal matching is learnable, above chance and below 100%; the Bayes
ceiling and the gender-only baseline are computed from the saved traits.

    >>> from vfbench.data.synthetic import SynthConfig, generate_corpus
    >>> res = generate_corpus("runs/synth", SynthConfig(identities=400), workers=2)
    >>> from vfbench.experiments.oracle import synthetic_ceiling   # through evaluate
    >>> print(synthetic_ceiling("runs/synth").table())
"""

from vfbench.data.synthetic.config import GENERATOR_VERSION, SynthConfig, load_synth_config
from vfbench.data.synthetic.corpus import SynthResult, generate_corpus, render_identity
from vfbench.data.synthetic.oracle import bayes_log_likelihood, pmi_matrix, pmi_scorer
from vfbench.data.synthetic.traits import SHARED_DIMS, TraitTable, sample_traits

__all__ = [
    "GENERATOR_VERSION",
    "SHARED_DIMS",
    "SynthConfig",
    "SynthResult",
    "TraitTable",
    "bayes_log_likelihood",
    "generate_corpus",
    "load_synth_config",
    "pmi_matrix",
    "pmi_scorer",
    "render_identity",
    "sample_traits",
]
