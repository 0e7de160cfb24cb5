"""The HTTP gateway: validate, authenticate, persist, enqueue, answer. No ML here."""
