"""Conversion: a lead becomes a company, a person and a deal in one transaction — the
conversion service, its request checks, matching of existing records and the preview.
"""
