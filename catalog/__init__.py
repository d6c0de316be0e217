"""zarrscribe.catalog."""
