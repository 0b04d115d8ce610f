"""Photo uploads: residents' before-photos and workers' after-photos, checked, cleaned of EXIF, kept in an object
store and read through short-lived signed links."""
