"""Pure risk math: no I/O, no clock. Same snapshot in, same numbers out."""
