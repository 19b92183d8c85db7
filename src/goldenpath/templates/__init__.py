"""Project templates and sample data shipped with the package (nothing is downloaded)."""
