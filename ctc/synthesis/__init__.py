"""View synthesis: a TMIV-style view-weighting synthesizer in torch (CPU and CUDA).

- :func:`synthesize` renders one target camera from the source views of one frame;
- :func:`synthesize_sequence` streams a whole sequence (a held-out camera or a pose trace) to YUV;
- :func:`nearest_view_baseline` is the simple comparison point (nearest view, forward-warped,
  same inpainter).

See ``docs/synthesis.md`` for the algorithm, its deviations from TMIV and measured quality.
"""

from ctc.synthesis.baseline import nearest_view_baseline
from ctc.synthesis.params import SynthParams
from ctc.synthesis.sequence import SynthReport, synthesize_sequence
from ctc.synthesis.views import SourceView, SynthOutput
from ctc.synthesis.vws import synthesize

__all__ = ["SourceView", "SynthOutput", "SynthParams", "SynthReport", "nearest_view_baseline",
           "synthesize", "synthesize_sequence"]
