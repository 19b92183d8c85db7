"""The monitor: drift and data quality of a deployment's served traffic (issue 25)."""
