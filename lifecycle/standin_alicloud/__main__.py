"""Entry point the engine starts: serve the provider, print the port on stdout."""

from .server import serve

if __name__ == "__main__":
    serve()
