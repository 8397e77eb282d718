"""Medical social work (医务社工): social-work departments, cases, resource linking, discharge transfers."""
