"""Celery workers: thin wrappers that decode a message, call one pipeline function, record it."""
