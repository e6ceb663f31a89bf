"""Image-quality metrics with the conventions of the SR literature (reference ``dualsr.md`` §6)."""
