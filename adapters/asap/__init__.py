"""ASAP 4.2 pharmacy reporting files: reader and writer."""
