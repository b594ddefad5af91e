"""The typeface of the after-action report and its charts: DejaVu Sans, embedded in every PDF.

Bitstream Vera (inside reportlab) lacks letters of names common in the West
Midlands ("ś", "ș", ...); DejaVu Sans, Vera's maintained successor, covers all
of Latin Extended-A and -B. Its TrueType files come from the matplotlib
package (pinned in requirements.txt), which ships them in mpl-data/fonts/ttf;
the package is found, never imported, so a report does not load numpy.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
ITALIC = "DejaVuSans-Oblique"
BOLD_ITALIC = "DejaVuSans-BoldOblique"
# What an SVG chart asks the browser for: DejaVu Sans where it is installed, else a close sans-serif.
SVG_FONT_FAMILY = "'DejaVu Sans', Verdana, Arial, sans-serif"


class ReportFontMissing(RuntimeError):
    """The font files are not installed (requirements.txt names the package that ships them)."""


def font_folder() -> Path:
    """Where the DejaVu Sans .ttf files are: matplotlib's mpl-data/fonts/ttf."""
    spec = importlib.util.find_spec("matplotlib")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "mpl-data" / "fonts" / "ttf"
        if (folder / f"{REGULAR}.ttf").is_file():
            return folder
    raise ReportFontMissing(
        "DejaVu Sans is missing: install the pinned requirements (matplotlib ships its .ttf files)"
    )


@cache
def register_report_fonts() -> str:
    """Register DejaVu Sans (regular, bold, italic, bold italic) with reportlab, once; its family name."""
    folder = font_folder()
    for name in (REGULAR, BOLD, ITALIC, BOLD_ITALIC):
        pdfmetrics.registerFont(TTFont(name, str(folder / f"{name}.ttf")))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC)
    return REGULAR
