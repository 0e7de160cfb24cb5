"""One router per resource; each handler is a few lines into one pipeline call."""
