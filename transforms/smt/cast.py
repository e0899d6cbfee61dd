"""(being written)"""

TRANSFORMATIONS: dict = {}
