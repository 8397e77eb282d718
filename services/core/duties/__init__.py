"""The plan's standing duties as records with clocks (seed 003): family doctor work days, the district
institutions' weekly health livestream, the quarterly contact reminder, and the yearly due dates (the
member roster by 10 July, the annual work summary by 30 November)."""
