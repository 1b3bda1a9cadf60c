"""Readers and writers of file formats, in each format's native units (no unit conversion here)."""
