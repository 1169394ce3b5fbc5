"""One screen per step of the journey."""
