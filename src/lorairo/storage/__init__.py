"""Stored files: where they live under a project, how they are read, checked and rendered.

Shared by registration (which writes them) and export (which reads and re-renders them).
"""
