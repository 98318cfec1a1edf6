"""vislang: visual-language generation and its evaluation.

Layers (see DESIGN.md): data -> models -> train -> features -> metrics -> evaluate -> report.
"""

__version__ = "0.1.0"
