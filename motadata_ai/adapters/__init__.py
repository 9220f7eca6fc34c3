"""One module (or small package) per technology, each implementing one or more ports."""
