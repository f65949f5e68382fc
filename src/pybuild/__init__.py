"""pybuild: build container images from Dockerfiles without a daemon, a runtime or root."""

__version__ = "0.1.0"
