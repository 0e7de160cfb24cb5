"""Persona's domain: storage, ingestion, retrieval and summaries, free of HTTP and Celery."""
