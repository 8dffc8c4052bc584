"""Experiments above the stages: orchestration that runs train, embed and evaluate together."""
