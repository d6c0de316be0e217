"""zarrscribe.pipeline."""
