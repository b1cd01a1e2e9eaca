"""Training machinery shared by every experiment."""
