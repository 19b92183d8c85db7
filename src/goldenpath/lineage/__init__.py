"""Lineage: typed edges between versioned objects (``edges.py``); queries and OpenLineage
export come later and read the same table."""
