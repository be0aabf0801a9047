"""Model registry, local inference and provider clients for image annotation."""
