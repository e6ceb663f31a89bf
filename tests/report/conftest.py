"""The bench tests' tiny datasets (real photos, known kernels) serve the report tests too."""

from tests.bench.conftest import dataset_factory

__all__ = ["dataset_factory"]
