"""(being written)"""

PREDICATES: dict = {}
