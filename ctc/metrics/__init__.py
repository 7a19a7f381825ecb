"""Objective quality metrics of the MIV CTC: PSNR, WS-PSNR, IV-PSNR, and their aggregation.

- :mod:`~ctc.metrics.psnr`: per-component / 6:1:1 YUV / masked / depth / RGB PSNR.
- :mod:`~ctc.metrics.wspsnr`: ERP row weights and WS-PSNR.
- :mod:`~ctc.metrics.ivpsnr`: IV-PSNR, bit-exact with the reference software v7.1.
- :mod:`~ctc.metrics.aggregate`: frames of raw YUV files → per-frame and mean values; views → mean.

Definitions and conformance results: ``docs/metrics.md``.
"""

from ctc.metrics.aggregate import SequenceMetrics, aggregate_views, compare_yuv_files, texture_metrics
from ctc.metrics.ivpsnr import CTC_SETTINGS, IvPsnrResult, IvPsnrSettings, ivpsnr_frame
from ctc.metrics.psnr import depth_psnr, psnr_from_sse, psnr_planes, rgb_psnr
from ctc.metrics.wspsnr import ErpRange, erp_row_weights, ws_psnr_planes

__all__ = [
    "CTC_SETTINGS", "ErpRange", "IvPsnrResult", "IvPsnrSettings", "SequenceMetrics", "aggregate_views",
    "compare_yuv_files", "depth_psnr", "erp_row_weights", "ivpsnr_frame", "psnr_from_sse", "psnr_planes",
    "rgb_psnr", "texture_metrics", "ws_psnr_planes",
]
