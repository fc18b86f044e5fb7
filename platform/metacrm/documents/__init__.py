"""Document templates rendered to PDF (see install.py)."""
