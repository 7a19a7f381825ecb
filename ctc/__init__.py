"""ctc: immersive content and its evaluation.

Sequence description (TMIV JSON, ``seq.yaml``), raw YUV I/O, colour and depth conversions,
camera geometry, pose traces, synthetic test content, view synthesis, metrics (PSNR, WS-PSNR,
IV-PSNR), BD-rate, anchors (VVenC, x265) and the CTC harness.

``ctc`` never imports ``mvhinerv``: the harness sees codecs through a small interface that the
CLI wires up (see ``docs/architecture.md``).
"""
