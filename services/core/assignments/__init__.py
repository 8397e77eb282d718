"""Who is responsible where: team <-> village/grid, community roles, the three pairings, and the queries."""
