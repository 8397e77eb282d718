"""Family-doctor signing (签约) and the contacts with signed residents."""
