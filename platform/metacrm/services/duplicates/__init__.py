"""Duplicates: the checks under an entity's duplicate rules, review of existing duplicates
(panels, pre-checks, scans) and the designer's rule preview.
"""
