"""Evaluation: trials, metrics, test confidence and results. Takes embeddings, never models."""
