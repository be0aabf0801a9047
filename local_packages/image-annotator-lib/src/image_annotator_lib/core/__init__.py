"""Shared result types and the annotator base class every model kind implements."""
