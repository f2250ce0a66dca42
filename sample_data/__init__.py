"""Small real sample data sets bundled with the package (see SOURCE.md in each folder)."""
