"""The live dashboard: a small ASGI app over the board, its event stream, and steering."""
