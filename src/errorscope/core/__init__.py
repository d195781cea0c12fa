"""Pure code: types, geometry and span logic. No I/O, no SQL, no global state."""
