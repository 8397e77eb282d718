"""The administrative hierarchy: district -> town/subdistrict -> village/community -> grid."""
