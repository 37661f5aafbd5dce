"""The ``capturehub`` command: a thin shell over the SDK and the server."""
