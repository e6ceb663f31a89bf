"""Pictures of results: the bench report page, kernel figures and before/after comparisons."""

from .crops import Crop, most_different_crop, parse_crop
from .figures import comparison_figure, kernel_figure
from .page import ReportConfig, ReportResult, build_report, load_settings, save_settings

__all__ = [
    "Crop",
    "ReportConfig",
    "ReportResult",
    "build_report",
    "comparison_figure",
    "kernel_figure",
    "load_settings",
    "most_different_crop",
    "parse_crop",
    "save_settings",
]
