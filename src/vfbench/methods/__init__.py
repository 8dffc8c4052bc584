"""Voice-face methods as plug-ins of the shared training loop: one file per method, each a
:class:`vfbench.train.methods.Method` subclass registered in ``METHODS`` (see docs/methods.md)."""
