"""Service layer: use cases composed from the domain, the pipeline and the adapters."""
