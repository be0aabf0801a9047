"""UI-free services. Each long operation takes a progress callback and a cancel token."""
