"""Image registration: scan, validate, decode once, deduplicate, import sidecars.

The orchestration lives in `lorairo.services.registration_service`; each step has its own module here.
"""
