"""Development conveniences: embedded PostgreSQL and Redis, ``gridcare dev``, demo data."""
