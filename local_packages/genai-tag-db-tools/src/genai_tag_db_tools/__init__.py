"""Tag database and tag cleaning for generative-AI image datasets."""
