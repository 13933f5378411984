"""nsc: neural speech codecs for 0.95-6 kbit/s."""

__version__ = "0.1.0"
