"""The capturehub HTTP server: an ASGI app split by feature (auth, projects, captures, ...)."""
