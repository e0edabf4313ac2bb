"""audiolab.reports: applications that render results for people.

The demo (normal, unaided and aided speech with its SII), the matplotlib report figure, and the
ANSI S3.22-style verification of a hearing-aid chain in a virtual test box.

May import every layer below the command line except ``audiolab.gui``; matplotlib is imported
only while a figure is drawn.
"""

from audiolab.reports._demo import CONDITIONS, DemoResult, bundled_speech, run_demo, sii_by_ear
from audiolab.reports._experiment_plots import plot_session
from audiolab.reports._report import draw_demo_report
from audiolab.reports._scores import draw_score_distributions
from audiolab.reports._verify import (
    VerifyReport,
    measure_attack_release_ms,
    measure_tone_output_db_spl,
    verify_chain,
    verify_chain_file,
)

__all__ = [
    "CONDITIONS",
    "DemoResult",
    "VerifyReport",
    "bundled_speech",
    "draw_demo_report",
    "draw_score_distributions",
    "measure_attack_release_ms",
    "measure_tone_output_db_spl",
    "plot_session",
    "run_demo",
    "sii_by_ear",
    "verify_chain",
    "verify_chain_file",
]
