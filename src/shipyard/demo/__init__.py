"""`shipyard demo`: a sample project and a scripted fleet that builds it."""
