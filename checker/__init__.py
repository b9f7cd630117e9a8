"""cbcheck: checks a certification body's records against ISO/IEC 17021-1 and ISO/IEC 20000-6 rules."""

__version__ = "0.1.0"
