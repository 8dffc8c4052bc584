"""The compared systems of the paper (section 2, Table 2) as :class:`~vfbench.train.methods.Method`
plug-ins: SVHF, DIMNet, Learnable PINs, Kim et al. and Horiguchi et al. (issue 10).

Each file subclasses ``Method`` and overrides only its head, objective and options; the
training loop, feature mode, checkpoints, validation and ``vfbench embed`` are shared.
A method's options live in ``loss.kwargs`` of its config and are validated by the
method's options dataclass (an unknown key is an error naming it). See docs/methods.md.
"""
