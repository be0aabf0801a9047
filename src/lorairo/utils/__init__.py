"""Small cross-cutting helpers: logging, secret masking and chunking."""
