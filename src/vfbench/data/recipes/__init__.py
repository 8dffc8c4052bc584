"""Corpus recipes: one module per corpus, each with a ``prepare_<corpus>()`` function."""
