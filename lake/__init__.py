"""The lake: where every stage of the pipeline reads and writes its files.

All file-system access of the pipeline goes through this package, so the lake can later
live on S3-compatible object storage by swapping one module (`lake.storage`).
"""
