"""Image-quality metrics with the conventions of the SR literature (``docs/metrics.md``)."""
