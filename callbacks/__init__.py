"""zarrscribe.callbacks."""
