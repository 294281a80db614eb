"""Each module of the course registers its lab checks here (one file per module)."""
