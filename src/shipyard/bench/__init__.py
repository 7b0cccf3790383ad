"""`shipyard bench`: coordination at scale measured on simulated fleets, against designs that failed."""
