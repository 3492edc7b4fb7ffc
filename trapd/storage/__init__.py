"""Storage: atomic files, JPEG with EXIF, one folder and one JSON sidecar per event."""
