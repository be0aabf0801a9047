"""Small cross-cutting helpers: logging and secret masking."""
