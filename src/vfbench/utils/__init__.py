"""Small shared helpers: atomic IO, hashing, safe paths, provenance."""
