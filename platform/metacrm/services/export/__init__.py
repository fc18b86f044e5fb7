"""Exports of records: which records a subject may export, the export API's rows, and the
CSV/XLSX writers.
"""
