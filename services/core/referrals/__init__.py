"""Two-way referral (双向转诊): primary teams refer signed residents up to district hospitals, hospitals
refer patients down to the responsible team. A lifecycle declaration (``lifecycle.py``) plus its rules."""
